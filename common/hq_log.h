/* Logging: one line per event on stderr, JSON ({"ts","level","msg",...fields})
 * or text. The level is checked before anything is formatted. Library code in
 * common/ logs only through this. Secrets must never be passed as fields. */
#ifndef HQ_LOG_H
#define HQ_LOG_H

enum hq_log_level { HQ_LOG_DEBUG = 0, HQ_LOG_INFO, HQ_LOG_WARN, HQ_LOG_ERROR };

void hq_log_setup(const char *component, int json, enum hq_log_level min);
int hq_log_enabled(enum hq_log_level lvl);
/* fields: NULL-terminated list of key, value string pairs; values are escaped. */
void hq_log_kv(enum hq_log_level lvl, const char *file, int line, const char *msg, ...)
    __attribute__((sentinel));

#define hq_log(lvl, msg, ...) \
    do { if (hq_log_enabled(lvl)) hq_log_kv(lvl, __FILE__, __LINE__, msg, ##__VA_ARGS__, (char *)NULL); } while (0)
#define hq_debug(msg, ...) hq_log(HQ_LOG_DEBUG, msg, ##__VA_ARGS__)
#define hq_info(msg, ...) hq_log(HQ_LOG_INFO, msg, ##__VA_ARGS__)
#define hq_warn(msg, ...) hq_log(HQ_LOG_WARN, msg, ##__VA_ARGS__)
#define hq_error(msg, ...) hq_log(HQ_LOG_ERROR, msg, ##__VA_ARGS__)

#endif

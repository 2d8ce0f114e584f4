/* Feature-test macros: include first in every .c file (before any system header). */
#ifndef HQ_FMACROS_H
#define HQ_FMACROS_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#!lua name=hookq
--[[
hookq's Redis function library (loaded with FUNCTION LOAD REPLACE by every
process at start and again whenever Redis answers "Function not found").

Every function touches only keys of one shard, all starting with the shard's
tag "<prefix>:{<shard>}:" (passed as ARGV[1] and called `tag` below), so the
library runs unchanged on Redis Cluster. Keys are documented in
docs/redis-keys.md; the delivery lifecycle in docs/architecture.md.

Stream entries carry: d = delivery id, e = endpoint id, k = event key,
n = attempt number (1-based, global across resends), r = step within the
current retry round (1-based; the round restarts on a manual resend).
--]]

local GROUP = 'workers'

-- Redis Cluster: while a shard's slot migrates (redis-cli --cluster
-- reshard), a key that has already moved makes any access to it fail
-- mid-script ("non local key"), and what the script wrote before stays
-- written. So every function that touches keys it derives itself (delivery,
-- endpoint, log, event-id keys) reads all of them first: a call that meets
-- a moved key fails before its first write, and the caller's retry (after
-- the move) runs it whole. Outside a migration these are cheap reads.
local function touch(keys)
  for i = 1, #keys, 500 do
    redis.call('EXISTS', unpack(keys, i, math.min(i + 499, #keys)))
  end
end

-- The event keys a function may touch through an event hash (its id index,
-- and the deliveries event_rearm looks at).
local function event_keys(tag, evkey, out)
  out[#out + 1] = evkey
  local f = redis.call('HMGET', evkey, 'id', 'dl')
  if f[1] then out[#out + 1] = tag .. 'eid:' .. f[1] end
  for did in string.gmatch(f[2] or '', '%S+') do out[#out + 1] = tag .. 'dlv:' .. did end
end

-- Seconds an event outlives the retention (see hookq_publish, hookq_complete).
local SLACK = 3600
local RECOVER_MAX = 5000

-- " p1 p2 " subscription string against an event type: exact, "prefix.*", "*".
local function matches(sub, typ)
  if string.find(sub, ' * ', 1, true) or string.find(sub, ' ' .. typ .. ' ', 1, true) then
    return true
  end
  local pos = 1
  while true do
    local d = string.find(typ, '.', pos, true)
    if not d then return false end
    if string.find(sub, ' ' .. string.sub(typ, 1, d) .. '* ', 1, true) then return true end
    pos = d + 1
  end
end

-- Delivery ids: 'dlv_' .. 21 hex digits .. the shard's 3. For an event's
-- first target (endpoint ids sorted) the 21 digits are h, the first 21 hex
-- digits of SHA-1(org NUL event id) (event_digest; hookq_publish_batch_v2's
-- caller computes it, saving Redis a SHA-1 per event at fan-out 1); for
-- its target at 0-based position p > 0, the first 21 hex digits of
-- SHA-1(h '/' p). So every delivery id carries 84 bits of hash, as when it
-- was SHA-1(org NUL event id NUL endpoint id); an event re-published after
-- it expired gets the same ids.
local function event_digest(org, eid)
  return string.sub(redis.sha1hex(org .. '\0' .. eid), 1, 21)
end

-- What a publish writes for one new event (hookq_publish and
-- hookq_publish_batch share it): per target endpoint (sorted) a stream
-- entry and a pending delivery hash, then the event hash and its id index,
-- both expiring by `xcmd xarg` (EXPIRE <ttl seconds>, or PEXPIREAT <unix
-- ms>: hookq_publish_batch's one absolute time for all its events, which
-- Redis keeps as given instead of rewriting it per key). `nt` is #targets
-- and `keep` the keep seconds, both as the strings stored; `h` the event's
-- digest. Plain arguments, no table: this runs once per published event.
-- A delivery hash holds only what its readers cannot find elsewhere: no
-- eid, type or created (its event hash `ev` has them: id, type, created; the
-- event outlives its deliveries), and until hookq_complete records its first
-- outcome no r (read as 1) or upd (read as the event's created). n (attempts
-- made) is stored as '0' all the same: the previous library's requeue
-- (hookq_resend, hookq_recover), which an older process puts back by
-- FUNCTION LOAD REPLACE during a rolling upgrade, adds 1 to it without a
-- default and would fail after its first writes (a lost delivery's lost
-- record dropped, a dead one out of the dead set). A test flag of '0' is
-- not stored (read as not a test). Each field costs Redis ~2k instructions
-- per event. (Delivery hashes written by earlier versions also carry eid,
-- type, created, r 1 and upd; readers take either.)
local function store_event(tag, stream, evkey, org, eid, typ, ca, ts, data, test, targets, nt, sh, now, keep,
                           xcmd, xarg, h)
  local dls = {}
  for j = 1, #targets do
    local epid = targets[j]
    local did = 'dlv_' .. (j == 1 and h or string.sub(redis.sha1hex(h .. '/' .. (j - 1)), 1, 21)) .. sh
    local sid = redis.call('XADD', stream, '*', 'd', did, 'e', epid, 'k', evkey, 'n', '1', 'r', '1')
    redis.call('HSET', tag .. 'dlv:' .. did, 'ev', evkey, 'ep', epid, 'org', org, 'st', 'pending', 'n', '0',
               'sid', sid)
    dls[j] = did
  end
  local dl = #dls == 1 and dls[1] or table.concat(dls, ' ')
  redis.call('HSET', evkey, 'id', eid, 'org', org, 'type', typ, 'ca', ca, 'ts', ts,
             'data', data, 'n', nt, 'dl', dl, 'created', now, 'keep', keep)
  if test == '1' then redis.call('HSET', evkey, 'test', '1') end  -- test events only (hookq_publish)
  redis.call(xcmd, evkey, xarg)
  local eidx = tag .. 'eid:' .. eid
  redis.call('SADD', eidx, org)
  redis.call(xcmd, eidx, xarg)
end

-- An event key that holds another org's event: the caller built it wrongly
-- (an org's '%' and ':' must be escaped, docs/publishing.md). An error, not
-- a replay: a replay answer would drop this event silently. Nothing is
-- written (the check comes before every write).
local function other_org(fname, evkey)
  return redis.error_reply('ERR ' .. fname .. ': ' .. evkey .. " holds another org's event " ..
                           "(escape '%' and ':' in the org part of event keys)")
end

-- Event keys escape the org since 2026-11-27 (hq_event_key); before, an
-- org with '%' or ':' had its events under the unescaped key, and producers
-- of that version still write there during a rolling upgrade. A repeat of
-- such an event under the other form of its key is a replay all the same
-- (SPEC 3: idempotent on (org_id, id)): its deliveries, or nil. A read of
-- a key of the same shard, before any write.
local function other_form(evkey, tag, org, eid)
  if not string.find(org, '[%%:]') then return nil end
  local alt = tag .. 'ev:' .. org .. ':' .. eid
  if alt == evkey then
    alt = tag .. 'ev:' .. (string.gsub((string.gsub(org, '%%', '%%25')), ':', '%%3A')) .. ':' .. eid
  end
  local f = redis.call('HMGET', alt, 'n', 'org')
  if f[1] and f[2] == org then return tonumber(f[1]) end
  return nil
end

--[[ hookq_publish: atomic fan-out of one event.
KEYS: 1 event hash, 2 org endpoint set, 3 shard stream, 4 event-id index
ARGV: 1 tag, 2 org, 3 event id, 4 type, 5 created_at text, 6 created_at ms,
      7 data (canonical JSON), 8 now ms, 9 keep seconds (idempotency and
      retention, >= 86400), 10 shard as 3 hex digits,
      11 only this endpoint id ('' = every matching endpoint), 12 test flag
Returns {'new'|'dup', deliveries} or {'noep', 0} when ARGV[11] is not an
endpoint of the org. The event and its id index expire keep + SLACK seconds
from now; hookq_complete extends that past every scheduled retry.
hookq_publish_batch below does the same for many events at once; both
write through store_event (tests/integration/test_publish_batch.py checks
that they write the same). --]]
local function publish(keys, args)
  local evkey, eps, stream = keys[1], keys[2], keys[3]
  local tag, org, eid, typ = args[1], args[2], args[3], args[4]
  local now, keep, sh, only = args[8], tonumber(args[9]), args[10], args[11] or ''
  local prev = redis.call('HMGET', evkey, 'n', 'org')
  if prev[1] then
    if prev[2] and prev[2] ~= org then return other_org('hookq_publish', evkey) end
    return {'dup', tonumber(prev[1])}
  end
  local legacy = other_form(evkey, tag, org, eid)
  if legacy then return {'dup', legacy} end
  local targets = {}
  if only ~= '' then
    if redis.call('SISMEMBER', eps, only) == 0 then return {'noep', 0} end
    targets[1] = only
  else
    for _, epid in ipairs(redis.call('SMEMBERS', eps)) do
      local f = redis.call('HMGET', tag .. 'ep:' .. epid, 'act', 'sub')
      if f[1] == '1' and f[2] and matches(f[2], typ) then targets[#targets + 1] = epid end
    end
    table.sort(targets)
  end
  store_event(tag, stream, evkey, org, eid, typ, args[5], args[6], args[7], args[12] or '0', targets,
              tostring(#targets), sh, now, keep, 'EXPIRE', tostring(keep + SLACK), event_digest(org, eid))
  -- the org's catalogue of seen types (GET /v1/event-types), capped; test events don't count
  local seen = tag .. 'org:' .. org .. ':seen'
  if args[12] ~= '1' and redis.call('SCARD', seen) < 1000 then redis.call('SADD', seen, typ) end
  redis.call('HINCRBY', tag .. 'stats', 'events', 1)
  if #targets > 0 then redis.call('HINCRBY', tag .. 'stats', 'deliveries', #targets) end
  return {'new', #targets}
end

--[[ hookq_publish_batch: hookq_publish (every endpoint, not a test event)
for many events of one shard in one call, with the same effects as calling
it for each event in turn: a repeat of an (org, id) published before, or
earlier in the list, is a replay and writes nothing; each event's fan-out
is atomic (so is the whole call).
KEYS: 1 shard stream, then the event hash of each event, in order
ARGV: 1 tag, 2 now ms, 3 keep seconds (>= 86400), 4 shard as 3 hex digits,
      then 6 per event: org, event id, type, created_at text,
      created_at ms, data (canonical JSON); every org maps to this shard.
hookq_publish_batch_v2 takes a 7th per event: the event's digest, the first
21 hex digits of SHA-1(org NUL event id), which the caller computes (see
event_digest); hookq_publish_batch computes it itself, for producers of
earlier versions during a rolling upgrade.
Returns one integer per event: N >= 0 = published and fanned out to N
endpoints; -1 - N = a replay (N its deliveries then).

The event keys are declared, as hookq_publish declares its own, for Redis
Cluster: while the shard's slot migrates, a call naming a missing key (a
new event) is redirected (ASK) and then refused with TRYAGAIN until the
move is over, and one naming only existing keys on the node holding them
(replays only) writes nothing; so no call runs with part of the keys it
writes or reads moved away. The client retries a refused call.

What hookq_publish does per event is done here once per call where it can
be: one EXISTS over all event keys (a HGET per event only if one exists),
each org's endpoint list with each endpoint's act/sub once (and its targets
once per type), the seen types with one SCARD per org, the stats with one
HINCRBY per counter; numbers are turned into strings once; the TTL is one
absolute time for all (one TIME per call, then PEXPIREAT, which Redis keeps
as given where EXPIRE is rewritten per key). All reads come first, then the
writes, event by event in order: per delivery XADD + HSET, then the event
hash and its id index with their TTL. --]]
local function publish_batch(keys, args, per)
  local nev = #keys - 1
  if #args < 4 or (#args - 4) % per ~= 0 or (#args - 4) / per ~= nev then
    return redis.error_reply('ERR hookq_publish_batch: KEYS must be 1 + n and ARGV 4 + ' .. per ..
                             'n for n events')
  end
  if per == 7 then
    for i = 11, #args, 7 do
      if #args[i] ~= 21 then return redis.error_reply('ERR hookq_publish_batch_v2: a digest is not 21 hex digits') end
    end
  end
  local call = redis.call
  local stream, tag, now, keep, sh = keys[1], args[1], args[2], tonumber(args[3]), args[4]
  local out, old = {}, 0
  for i = 2, nev + 1, 500 do old = old + call('EXISTS', unpack(keys, i, math.min(i + 499, nev + 1))) end
  -- per org: its active endpoints {id, sub, id, sub, ...} (sorted by id)
  -- and the targets per type; per new event (3 values in nw): its first
  -- ARGV index, its number, its targets
  local fresh, epl, tcache, seen, seenorder = {}, {}, {}, {}, {}
  local nw, nums = {}, {}
  local nnew, ndel, k = 0, 0, 0
  for i = 5, #args, per do
    k = k + 1
    local evkey, org, eid, typ = keys[k + 1], args[i], args[i + 1], args[i + 2]
    local prev = fresh[evkey]
    if prev == nil and old > 0 then
      local f = call('HMGET', evkey, 'n', 'org')
      if f[1] then
        if f[2] and f[2] ~= org then return other_org('hookq_publish_batch', evkey) end
        prev = tonumber(f[1])
      end
    end
    if prev == nil then prev = other_form(evkey, tag, org, eid) end
    if prev then
      out[k] = -1 - prev
    else
      local l, tc = epl[org], tcache[org]
      if not l then
        l, tc = {}, {}
        local ids = call('SMEMBERS', tag .. 'org:' .. org .. ':eps')
        table.sort(ids)
        for _, epid in ipairs(ids) do
          local f = call('HMGET', tag .. 'ep:' .. epid, 'act', 'sub')
          if f[1] == '1' and f[2] then
            l[#l + 1] = epid
            l[#l + 1] = f[2]
          end
        end
        epl[org], tcache[org] = l, tc
      end
      local targets = tc[typ]
      if not targets then
        targets = {}
        for j = 1, #l, 2 do
          if matches(l[j + 1], typ) then targets[#targets + 1] = l[j] end
        end
        tc[typ] = targets
      end
      nw[3 * nnew + 1], nw[3 * nnew + 2], nw[3 * nnew + 3] = i, k, targets
      nnew = nnew + 1
      fresh[evkey] = #targets
      ndel = ndel + #targets
      local s = seen[org]
      if not s then
        s = {}
        seen[org] = s
        seenorder[#seenorder + 1] = org
      end
      if not s[typ] then
        s[typ] = true
        s[#s + 1] = typ
      end
      out[k] = #targets
    end
  end
  if nnew == 0 then return out end
  local function num(n)
    local v = nums[n]
    if not v then
      v = tostring(n)
      nums[n] = v
    end
    return v
  end
  -- every new event (and its id index) expires keep + SLACK seconds from
  -- now, by Redis' clock as EXPIRE would count it
  local t = call('TIME')
  local exp = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
                                    + (keep + SLACK) * 1000)
  local keeps = num(keep)
  for m = 0, nnew - 1 do
    local i, targets = nw[3 * m + 1], nw[3 * m + 3]
    store_event(tag, stream, keys[nw[3 * m + 2] + 1], args[i], args[i + 1], args[i + 2], args[i + 3],
                args[i + 4], args[i + 5], '0', targets, num(#targets), sh, now, keeps, 'PEXPIREAT', exp,
                per == 7 and args[i + 6] or event_digest(args[i], args[i + 1]))
  end
  -- the seen-types cap as if the types were added event by event
  for _, org in ipairs(seenorder) do
    local key, types = tag .. 'org:' .. org .. ':seen', seen[org]
    local n = call('SCARD', key)
    if n + #types <= 1000 then
      call('SADD', key, unpack(types))
    else
      for _, typ in ipairs(types) do
        if n < 1000 then n = n + call('SADD', key, typ) end
      end
    end
  end
  call('HINCRBY', tag .. 'stats', 'events', num(nnew))
  if ndel > 0 then call('HINCRBY', tag .. 'stats', 'deliveries', num(ndel)) end
  return out
end

--[[ hookq_load: what a worker needs to run a batch of claimed entries.
KEYS: nev event hashes, then endpoint hashes
ARGV: 1 nev, then one cached endpoint version per endpoint key ('0' = none)
Returns one element per key: an event as {id, org, type, created_at, ts, data}
or false; an endpoint as {ver, cfg or false when the cached ver is current,
act, disabled reason or ''} or false when it no longer exists.
This version's worker passes nev = 0 (the event part stays for workers of
earlier versions during a rolling upgrade) and reads the events with one
plain HMGET each (id org type ca ts data) in the same MULTI/EXEC: every value a function
reads becomes a Lua string first, which Redis' Lua hashes byte by byte, and
for 1 KiB payloads that cost Redis more than the reads themselves. --]]
local function load(keys, args)
  local nev = tonumber(args[1])
  local out = {}
  for i = 1, nev do
    local f = redis.call('HMGET', keys[i], 'id', 'org', 'type', 'ca', 'ts', 'data')
    if f[1] then out[i] = f else out[i] = false end
  end
  for i = nev + 1, #keys do
    local f = redis.call('HMGET', keys[i], 'ver', 'act', 'dis_reason')
    if f[1] then
      local cfg = false
      if f[1] ~= args[i - nev + 1] then cfg = redis.call('HGET', keys[i], 'cfg') end
      out[i] = {f[1], cfg, f[2] or '0', f[3] or ''}
    else
      out[i] = false
    end
  end
  return out
end

local function disable(epk, now, reason)
  redis.call('HSET', epk, 'act', '0', 'dis_reason', reason, 'dis_at', now)
  redis.call('HINCRBY', epk, 'ver', 1)
end

--[[ hookq_complete: record the outcomes of a batch of attempts of one shard.
KEYS: 1 stream, 2 retry set, 3 dead set
ARGV: 1 tag, 2 now ms, 3 keep seconds, 4 attempt-log length per endpoint,
      5 disable-after ms (0 = never), 6 '1' on Redis Cluster (read every key
      first, see touch) or '0' on a single Redis, then 12 fields per attempt:
      stream id, delivery id, endpoint id, event key, event id ('' = not
      known: read from the event when needed), attempt n, round step r,
      outcome (delivered|retry|dead|gone|cancel|defer), due ms (retry, defer),
      attempt record JSON, http status ('0' = none), reason ('' or text)
An entry no longer pending (acked by another worker after a reclaim) is
skipped: the first outcome recorded wins. Returns the number recorded.

One XACK acks the whole batch. When it acks every id (the normal case),
every outcome is recorded. Otherwise some entry had already left the PEL,
and each attempt is recorded only if its delivery still says nobody did:
st 'pending' with this stream id, and its entry not recorded as lost by
hookq_reclaim. That is the same as "its entry was in the PEL": every path
that takes an entry out of the PEL records it in the same script (an
outcome here: st is no longer pending; poison: dead; lost: the lost hash),
and a delivery gets a new sid only when it is re-added (promote, resend),
which needs its old entry out of the PEL. Then the acked entries are
trimmed from below (complete_trim: one XPENDING (COUNT 1) and one XTRIM
MINID ~; an XDEL only for entries far above a long-pending one; the
whole stream when nothing is pending and the batch acked its last entry).

Cost per attempt: HSET + EXPIRE (final) of the delivery; per batch: one
XACK, XPENDING + XTRIM (+ XREVRANGE when nothing is left pending, + XINFO
GROUPS when this call did not ack the newest entry read; an XDEL under a
long-pending entry), one stats HINCRBY per counter and, per endpoint,
one HMGET, one attempt-log XADD (complete_log; + an HSET when it holds
several attempts) and the health update (none for a healthy one already
updated in this second); on Redis Cluster one EXISTS
over the keys (once per endpoint and event) and, for an event whose id the
caller does not know or after a resend, a read of the event. A delivery
hash never has `due` or `reason` when its entry is in the stream (promote
and resend clear them), so nothing is deleted here. The event's TTL (set at
publish) is only touched when a retry is scheduled (extended past its due
time), when the entry waited longer than SLACK (refreshed), or after a
resend, which PERSISTs the event (the TTL is then re-derived from its
deliveries). Values passed to redis.call are the ARGV strings where they
can be (a Lua number is formatted with printf on every call). --]]
local function event_extend(tag, evkey, secs, eid)
  if redis.call('EXPIRE', evkey, secs, 'GT') == 1 then
    if not eid or eid == '' then eid = redis.call('HGET', evkey, 'id') end
    if eid then redis.call('EXPIRE', tag .. 'eid:' .. eid, secs, 'GT') end
  end
end

-- After a resend (requeue PERSISTs the event): the event lives the
-- retention past now and past every retry still scheduled for it.
local function event_rearm(tag, evkey, now, keep)
  if redis.call('TTL', evkey) ~= -1 then return end
  local secs = keep + SLACK
  local f = redis.call('HMGET', evkey, 'id', 'dl')
  for did in string.gmatch(f[2] or '', '%S+') do
    local g = redis.call('HMGET', tag .. 'dlv:' .. did, 'st', 'due')
    if g[1] == 'retrying' and g[2] then
      local s = math.ceil((tonumber(g[2]) - now) / 1000) + keep + SLACK
      if s > secs then secs = s end
    end
  end
  redis.call('EXPIRE', evkey, secs)
  if f[1] then redis.call('EXPIRE', tag .. 'eid:' .. f[1], secs) end
end

-- hookq_complete on Redis Cluster: the keys it may touch, each once
-- (attempts from ARGV[first] on, nf fields each, e = 1 if they carry the
-- event id).
local function complete_keys(tag, args, first, nf, e)
  local pre, eps, evs = {tag .. 'stats', tag .. 'lost'}, {}, {}
  for i = first, #args, nf do
    local epid, evkey = args[i + 2], args[i + 3]
    pre[#pre + 1] = tag .. 'dlv:' .. args[i + 1]
    if not eps[epid] then
      eps[epid] = true
      pre[#pre + 1] = tag .. 'ep:' .. epid
      pre[#pre + 1] = tag .. 'eplog:' .. epid
    end
    local seen = evs[evkey]
    if not seen then
      seen = 1
      pre[#pre + 1] = evkey
      local eid = e == 1 and args[i + 4] or ''
      if eid == '' then eid = redis.call('HGET', evkey, 'id') end
      if eid then pre[#pre + 1] = tag .. 'eid:' .. eid end
    end
    if seen == 1 and args[i + 4 + e] ~= args[i + 5 + e] then
      -- resent: event_rearm reads the event's deliveries
      seen = 2
      for did in string.gmatch(redis.call('HGET', evkey, 'dl') or '', '%S+') do
        pre[#pre + 1] = tag .. 'dlv:' .. did
      end
    end
    evs[evkey] = seen
  end
  return pre
end

-- How far (in stream time) acked entries may sit above the oldest pending
-- entry before hookq_complete deletes them itself (see complete_trim).
local TRIM_PIN_MS = 2000

-- Stream ids "ms-seq" compared exactly (decimal strings without leading
-- zeros: the longer is larger, then byte order); true if a <= b.
local function sid_le(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return false end
  if am ~= bm then
    if #am ~= #bm then return #am < #bm end
    return am < bm
  end
  if #as ~= #bs then return #as < #bs end
  return as <= bs
end

-- hookq_complete, after its XACK (nacked > 0, so the group exists): drops
-- acked entries from the stream. Every entry older than the oldest entry
-- still pending in the group was read by it (the group reads in id order)
-- and is not pending, so it is acked and can go; with nothing pending,
-- every entry up to the group's last-delivered id is (the newest id this
-- batch acked when `all` = every id was in the PEL, so each was read, and
-- it is the stream's last entry; else XINFO GROUPS says: another worker may
-- have finished later entries first). XTRIM MINID ~ drops only whole stream
-- nodes entirely below that floor (no entry at or above it, so pending and
-- unread entries keep their data and hookq_reclaim's "lost" check is
-- unaffected): far cheaper than XDEL, which finds and rewrites each entry
-- in its node. The oldest pending entry comes from the range form of
-- XPENDING (a seek in the group's PEL; the summary form walks every
-- consumer the group ever had, and dead workers' names stay there). A
-- long-pending entry (a slow endpoint, a worker that died)
-- pins the floor; this batch's entries more than TRIM_PIN_MS of stream
-- time above it are then XDELeted as before, so what trimming leaves
-- behind stays bounded. Ids are compared as strings (parsing each as a
-- number would give back a quarter of what dropping XDEL saves): with
-- 13-digit ms parts on both sides the ms digits decide, in any collation
-- Redis runs under; an id misjudged (same ms, or a sequence number of
-- another length) only makes the floor a little lower, or is deleted early
-- or kept a while longer - all safe for an acked entry (and for one acked
-- elsewhere, which was always deleted here before).
local function complete_trim(stream, sids, all)
  local oldest = redis.call('XPENDING', stream, GROUP, '-', '+', 1)[1]
  local floor = oldest and oldest[1]
  if not floor then
    -- nothing pending: every entry the group has read is acked
    local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
    if not last then return end
    if all then
      floor = sids[1]
      for _, sid in ipairs(sids) do
        if sid > floor then floor = sid end
      end
    end
    if floor ~= last[1] then
      floor = nil
      local gs = redis.call('XINFO', 'GROUPS', stream)
      for _, g in ipairs(gs) do
        local f = {}
        for j = 1, #g, 2 do f[g[j]] = g[j + 1] end
        if f.name == GROUP then floor = f['last-delivered-id'] end
      end
      if not floor then return end
    end
    -- the stream's last entry was read (and acked): all go, and an idle
    -- shard shows XLEN 0, as it did when every entry was deleted at its ack
    if sid_le(last[1], floor) then
      redis.call('XTRIM', stream, 'MAXLEN', 0)
      return
    end
  else
    local pin = tonumber(string.match(floor, '^(%d+)-') or '')
    if pin then
      local thr, far = string.format('%.0f-~', pin + TRIM_PIN_MS), nil
      for _, sid in ipairs(sids) do
        if sid > thr then
          far = far or {}
          far[#far + 1] = sid
        end
      end
      if far then
        for j = 1, #far, 500 do
          redis.call('XDEL', stream, unpack(far, j, math.min(j + 499, #far)))
        end
      end
    end
  end
  redis.call('XTRIM', stream, 'MINID', '~', floor)
end

--[[ hookq_complete: one attempt-log entry per endpoint per call. `l` holds
the call's attempts of the endpoint in order, 4 values each (delivery,
attempt n, status, http status); h is the endpoint's health record (lq, lck
as read). The newest attempt goes into the fields one attempt always had
(d n s c t, so a reader of the older layout still shows it), the others
into `m` ("d n s c" each, oldest first, space-separated), and `L` is the
log's length in attempts: the producer returns the newest L attempts,
however many the entries hold. Storage: at most L entries (MAXLEN, exactly
below 1000: MAXLEN ~ trims whole 100-entry nodes, far too coarse for a
small HOOKQ_ATTEMPT_LOG), and entries of several attempts are counted in
`lq` of the endpoint hash: `lck` there lists "id count" of such entries at
least L/4 attempts apart, oldest first, and once L attempts of such entries
were logged after a checkpoint, every entry older than it goes (MINID). So
the several-attempt entries hold at most about 1.25 L attempts + one entry,
and the one-attempt entries (not counted: that would cost them an HSET)
stay within the L entries: up to about 2.25 L attempts in all when the two
kinds alternate, of which the reader returns the newest L.
A one-attempt entry costs the one XADD it always did; one of k attempts an
XADD and an HSET instead of k XADDs. The caller skips a deleted endpoint
(its log is not recreated) and drops entries older than keep seconds once
per endpoint and second (the producer also hides entries older than
HOOKQ_RETENTION). --]]
local function complete_log(key, epk, h, l, loglen, exact, nows)
  local k = #l
  if k == 4 then
    redis.call('XADD', key, 'MAXLEN', exact and '=' or '~', loglen, '*',
               'd', l[1], 'n', l[2], 's', l[3], 'c', l[4], 't', nows, 'L', loglen)
    return
  end
  local id = redis.call('XADD', key, 'MAXLEN', exact and '=' or '~', loglen, '*',
                        'd', l[k - 3], 'n', l[k - 2], 's', l[k - 1], 'c', l[k], 't', nows,
                        'm', table.concat(l, ' ', 1, k - 4), 'L', loglen)
  local nlen = tonumber(loglen)
  local q = (tonumber(h.lq) or 0) + k / 4
  local cks = {}
  for cid, cq in string.gmatch(h.lck or '', '(%S+) (%S+)') do
    cks[#cks + 1] = cid
    cks[#cks + 1] = tonumber(cq)
  end
  -- a checkpoint L attempts behind: everything before its entry is older
  -- than the newest L attempts
  local first, minid = 1, nil
  while first < #cks and cks[first + 1] <= q - nlen do
    minid = cks[first]
    first = first + 2
  end
  local out = {}
  for j = first, #cks do out[#out + 1] = cks[j] end
  if #out == 0 or q - out[#out] >= nlen / 4 then
    out[#out + 1] = id
    out[#out + 1] = q
  end
  if minid then redis.call('XTRIM', key, 'MINID', exact and '=' or '~', minid) end
  redis.call('HSET', epk, 'lq', tostring(q), 'lck', table.concat(out, ' '))
end

local COMPLETE_OUTCOMES = {delivered = true, retry = true, dead = true, gone = true, cancel = true, defer = true}

local function complete(keys, args)
  local stream, retry, dead = keys[1], keys[2], keys[3]
  local tag, nows, keeps, loglen = args[1], args[2], args[3], args[4]
  local now, keep, disable_after = tonumber(nows), tonumber(keeps), tonumber(args[5])
  local exact = tonumber(loglen) < 1000
  local counts = {delivered = 0, failed = 0, dead = 0, cancelled = 0, deferred = 0}
  local recorded = 0
  local health, eporder = {}, {}
  -- ARGV[6] is the cluster flag; anything else (a stream id, or nothing) is
  -- the layout of workers from before it, still accepted during a rolling
  -- upgrade: 11 fields per attempt from ARGV[6] (no event id), keys read
  -- first as on a cluster
  local first, nf, e = 7, 12, 1
  if args[6] ~= '0' and args[6] ~= '1' then first, nf, e = 6, 11, 0 end
  -- Every attempt is checked before the batch's XACK: an error after it
  -- would leave the whole batch out of the PEL and unrecorded. Malformed
  -- arguments fail the call before any write (the entries stay pending and
  -- are reclaimed, ending as poison if it keeps happening).
  if not now or not keep or not disable_after or not tonumber(loglen) or (#args - first + 1) % nf ~= 0 then
    return redis.error_reply('ERR hookq_complete: malformed arguments')
  end
  for i = first, #args, nf do
    local outcome, due = args[i + 6 + e], args[i + 7 + e]
    if not tonumber(args[i + 4 + e]) or not tonumber(args[i + 5 + e]) or not COMPLETE_OUTCOMES[outcome] or
       ((outcome == 'retry' or outcome == 'defer') and not tonumber(due)) then
      return redis.error_reply('ERR hookq_complete: malformed attempt at ARGV[' .. i .. ']')
    end
  end
  if args[6] ~= '0' then touch(complete_keys(tag, args, first, nf, e)) end
  local sids = {}
  for i = first, #args, nf do sids[#sids + 1] = args[i] end
  local nacked = 0
  for j = 1, #sids, 500 do
    nacked = nacked + redis.call('XACK', stream, GROUP, unpack(sids, j, math.min(j + 499, #sids)))
  end
  local all = nacked == #sids
  for i = first, #args, nf do
    local sid, did, epid, evkey = args[i], args[i + 1], args[i + 2], args[i + 3]
    local eid = e == 1 and args[i + 4] or ''
    local n, r, outcome, due = args[i + 4 + e], args[i + 5 + e], args[i + 6 + e], args[i + 7 + e]
    local att, code, reason = args[i + 8 + e], args[i + 9 + e], args[i + 10 + e]
    local dk = tag .. 'dlv:' .. did
    local pending = all
    if not pending then
      local g = redis.call('HMGET', dk, 'st', 'sid')
      pending = g[1] == 'pending' and g[2] == sid and redis.call('HEXISTS', tag .. 'lost', sid) == 0
    end
    if pending then
      recorded = recorded + 1
      local resent = n ~= r
      -- an entry that waited long: keep its event the retention past now
      local born = tonumber(string.match(sid, '^(%d+)'))
      if born and now - born > SLACK * 500 and not resent then event_extend(tag, evkey, keep + SLACK, eid) end
      if outcome == 'defer' then
        -- the endpoint's backlog at that worker was full: back to the retry
        -- set without using an attempt (promote re-adds n and r unchanged)
        redis.call('HSET', dk, 'st', 'retrying', 'n', tonumber(n) - 1, 'r', tonumber(r) - 1,
                   'due', due, 'upd', nows)
        redis.call('ZADD', retry, due, did)
        event_extend(tag, evkey, math.ceil((tonumber(due) - now) / 1000) + keep + SLACK, eid)
        counts.deferred = counts.deferred + 1
      elseif outcome == 'cancel' then
        redis.call('HSET', dk, 'st', 'cancelled', 'reason', reason, 'upd', nows)
        redis.call('EXPIRE', dk, keeps)
        if resent then event_rearm(tag, evkey, now, keep) end
        counts.cancelled = counts.cancelled + 1
      else
        local logst
        local h = health[epid]
        if not h then
          -- read once per endpoint: whether it exists, and what the health
          -- update below needs (nothing before it here writes these fields)
          local f = redis.call('HMGET', tag .. 'ep:' .. epid, 'ver', 'act', 'ff', 'fails', 'ok_at', 'fail_at',
                               'lq', 'lck')
          h = {ok = false, fails = 0, early = false, gone = false, log = false,
               exists = (f[1] or f[2]) and true or false, act = f[2], ff = f[3], was = f[4],
               ok_at = tonumber(f[5]) or 0, fail_at = tonumber(f[6]) or 0, lq = f[7], lck = f[8]}
          health[epid] = h
          eporder[#eporder + 1] = epid
        end
        if outcome == 'delivered' then
          logst = 'delivered'
          redis.call('HSET', dk, 'st', 'delivered', 'n', n, 'r', r, 'a' .. n, att, 'code', code, 'upd', nows)
          redis.call('EXPIRE', dk, keeps)
          if resent then event_rearm(tag, evkey, now, keep) end
          h.ok, h.fails = true, 0
          counts.delivered = counts.delivered + 1
        elseif outcome == 'retry' and not h.exists then
          -- the endpoint was deleted while this attempt ran: no retry
          redis.call('HSET', dk, 'st', 'cancelled', 'n', n, 'r', r, 'a' .. n, att, 'code', code,
                     'reason', 'endpoint deleted', 'upd', nows)
          redis.call('EXPIRE', dk, keeps)
          if resent then event_rearm(tag, evkey, now, keep) end
          counts.cancelled = counts.cancelled + 1
        else
          if outcome == 'retry' then
            logst = 'failed'
            redis.call('HSET', dk, 'st', 'retrying', 'n', n, 'r', r, 'a' .. n, att, 'code', code,
                       'due', due, 'upd', nows)
            redis.call('ZADD', retry, due, did)
            event_extend(tag, evkey, math.ceil((tonumber(due) - now) / 1000) + keep + SLACK, eid)
            counts.failed = counts.failed + 1
          else
            logst = 'dead'
            redis.call('HSET', dk, 'st', 'dead', 'n', n, 'r', r, 'a' .. n, att, 'code', code,
                       'reason', reason, 'upd', nows)
            redis.call('EXPIRE', dk, keeps)
            redis.call('ZADD', dead, nows, did)
            if resent then event_rearm(tag, evkey, now, keep) end
            counts.dead = counts.dead + 1
          end
          h.fails = h.fails + 1
          if not h.ok then h.early = true end
          if outcome == 'gone' then h.gone = true end
        end
        -- logged below, once per endpoint (complete_log)
        if logst and h.exists then
          local l = h.log
          if not l then
            l = {}
            h.log = l
          end
          l[#l + 1] = did
          l[#l + 1] = n
          l[#l + 1] = logst
          l[#l + 1] = code
        end
      end
    end
  end
  if nacked > 0 then complete_trim(stream, sids, all) end
  -- dead deliveries leave the dead set with their hashes (after keep)
  redis.call('ZREMRANGEBYSCORE', dead, '-inf', '(' .. (now - keep * 1000))
  -- Endpoint health, once per endpoint, as if applied attempt by attempt:
  -- `fails` counts failures since the last success, `ff` is the first
  -- failure of that streak; an ongoing streak older than disable-after
  -- disables the endpoint at its next failure, 410 Gone at once. A deleted
  -- endpoint is not recreated. A healthy endpoint whose ok_at is already in
  -- this second is left as it is (the API shows it to the second), and its
  -- log is age-trimmed with the first health write of each second: with
  -- many batches a second, most write nothing here.
  local sec = math.floor(now / 1000)
  for _, epid in ipairs(eporder) do
    local h, epk = health[epid], tag .. 'ep:' .. epid
    if h.exists then
      local trim = math.floor(math.max(h.ok_at, h.fail_at) / 1000) ~= sec
      local why
      if h.gone then
        why = 'endpoint answered 410 Gone'
      elseif h.early and disable_after > 0 then
        local ff = tonumber(h.ff)
        if h.act == '1' and ff and now - ff >= disable_after then
          why = 'every attempt failed for ' .. math.floor((now - ff) / 1000) .. 's'
        end
      end
      if h.ok then
        if h.fails == 0 then
          if h.was ~= '0' or h.ff or math.floor(h.ok_at / 1000) ~= sec then
            redis.call('HSET', epk, 'fails', '0', 'ok_at', nows)
            if h.ff then redis.call('HDEL', epk, 'ff') end
          end
        else
          redis.call('HSET', epk, 'fails', h.fails, 'ok_at', nows, 'ff', nows, 'fail_at', nows)
        end
      elseif h.fails > 0 then
        redis.call('HINCRBY', epk, 'fails', h.fails)
        if h.ff then
          redis.call('HSET', epk, 'fail_at', nows)
        else
          redis.call('HSET', epk, 'fail_at', nows, 'ff', nows)
        end
      end
      if why then disable(epk, nows, why) end
      if h.log then
        complete_log(tag .. 'eplog:' .. epid, epk, h, h.log, loglen, exact, nows)
        if trim then redis.call('XTRIM', tag .. 'eplog:' .. epid, 'MINID', '~', now - keep * 1000) end
      end
    end
  end
  for k, v in pairs(counts) do
    if v > 0 then redis.call('HINCRBY', tag .. 'stats', k, v) end
  end
  return recorded
end

--[[ hookq_promote: move due retries back onto the stream.
KEYS: 1 retry set, 2 stream
ARGV: 1 tag, 2 now ms, 3 limit
Safe with any number of callers: ZREM and XADD happen in one script.
Returns {moved, next due ms or -1}. --]]
local function promote(keys, args)
  local retry, stream, tag = keys[1], keys[2], args[1]
  local due = redis.call('ZRANGEBYSCORE', retry, '-inf', args[2], 'LIMIT', 0, tonumber(args[3]))
  local pre = {}
  for _, did in ipairs(due) do pre[#pre + 1] = tag .. 'dlv:' .. did end
  touch(pre)
  for _, did in ipairs(due) do
    redis.call('ZREM', retry, did)
    local dk = tag .. 'dlv:' .. did
    local f = redis.call('HMGET', dk, 'ep', 'ev', 'n', 'r')
    if f[1] then
      local sid = redis.call('XADD', stream, '*', 'd', did, 'e', f[1], 'k', f[2],
                             'n', tonumber(f[3]) + 1, 'r', tonumber(f[4]) + 1)
      redis.call('HSET', dk, 'st', 'pending', 'sid', sid)
      redis.call('HDEL', dk, 'due')
    end
  end
  local nxt = redis.call('ZRANGE', retry, 0, 0, 'WITHSCORES')
  return {#due, tonumber(nxt[2] or '-1')}
end

--[[ hookq_reclaim: take over entries idle longer than min-idle (their worker
died or hung). Entries already claimed max-claims times are poison: they end
dead. Entries whose stream data is gone are recorded as lost, never dropped
silently.
KEYS: 1 stream, 2 dead set
ARGV: 1 tag, 2 consumer, 3 min idle ms, 4 count, 5 max claims, 6 now ms,
      7 keep seconds, 8 cursor
Returns {next cursor, entries (as XAUTOCLAIM), poisoned, lost}. --]]
local function reclaim(keys, args)
  local stream, dead, tag = keys[1], keys[2], args[1]
  local now, keep = args[6], args[7]
  local maxc = tonumber(args[5])
  local poisoned, lost = 0, 0
  local pending = redis.call('XPENDING', stream, GROUP, 'IDLE', args[3], '-', '+', args[4])
  local pre = {tag .. 'lost', tag .. 'stats'}
  for _, p in ipairs(pending) do
    if tonumber(p[4]) >= maxc then
      local e = redis.call('XRANGE', stream, p[1], p[1])
      if e[1] then
        for j = 1, #e[1][2], 2 do
          if e[1][2][j] == 'd' then pre[#pre + 1] = tag .. 'dlv:' .. e[1][2][j + 1] end
          if e[1][2][j] == 'k' then event_keys(tag, e[1][2][j + 1], pre) end
        end
      end
    end
  end
  touch(pre)
  for _, p in ipairs(pending) do
    if tonumber(p[4]) >= maxc then
      local e = redis.call('XRANGE', stream, p[1], p[1])
      if e[1] then
        local f = {}
        for j = 1, #e[1][2], 2 do f[e[1][2][j]] = e[1][2][j + 1] end
        if f.d then
          local dk = tag .. 'dlv:' .. f.d
          redis.call('HSET', dk, 'st', 'dead', 'reason', 'poison: claimed ' .. p[4] .. ' times without an outcome', 'upd', now)
          -- final, so it expires the retention from now, as hookq_complete's dead ones do
          if keep then redis.call('EXPIRE', dk, keep) end
          redis.call('ZADD', dead, now, f.d)
        else  -- not a hookq entry (no delivery id): recorded like a lost one
          redis.call('HSET', tag .. 'lost', p[1], now)
          redis.call('ZADD', dead, now, 'lost:' .. p[1])
        end
        redis.call('XACK', stream, GROUP, p[1])
        redis.call('XDEL', stream, p[1])
        poisoned = poisoned + 1
      end
    end
  end
  local r = redis.call('XAUTOCLAIM', stream, GROUP, args[2], args[3], args[8], 'COUNT', args[4])
  for _, sid in ipairs(r[3] or {}) do
    redis.call('HSET', tag .. 'lost', sid, now)
    redis.call('ZADD', dead, now, 'lost:' .. sid)
    lost = lost + 1
  end
  if poisoned > 0 then redis.call('HINCRBY', tag .. 'stats', 'dead', poisoned) end
  if lost > 0 then redis.call('HINCRBY', tag .. 'stats', 'lost', lost) end
  -- entries that left the PEL here may have pinned acked ones above them
  -- (see complete_trim): trim as hookq_complete would, so an idle shard
  -- whose last pending entry ended here is empty too
  if poisoned + lost > 0 then complete_trim(stream, {}, false) end
  return {r[1], r[2], poisoned, lost}
end

-- Re-enqueues one delivery; shared by resend and recover.
local function requeue(tag, stream, retry, dead, did, now)
  local dk = tag .. 'dlv:' .. did
  local f = redis.call('HMGET', dk, 'st', 'ep', 'ev', 'n')
  if not f[1] then return 'nodelivery' end
  local lostsid = nil
  if f[1] == 'pending' then
    -- queued or in flight, unless hookq_reclaim recorded its entry as lost
    -- (stream data deleted while pending): then re-sending is the way back
    local sid = redis.call('HGET', dk, 'sid')
    if not sid or redis.call('HEXISTS', tag .. 'lost', sid) == 0 then return 'pending' end
    lostsid = sid
  end
  if redis.call('EXISTS', f[3]) == 0 then return 'noevent' end
  if lostsid then
    redis.call('HDEL', tag .. 'lost', lostsid)
    redis.call('ZREM', dead, 'lost:' .. lostsid)
  end
  redis.call('ZREM', retry, did)
  redis.call('ZREM', dead, did)
  if f[1] ~= 'retrying' and f[1] ~= 'pending' then
    -- the event must outlive this attempt: it gets its retention again from
    -- now (a scheduled retry extends it further, as after a publish); an
    -- event from before 'keep' was stored is PERSISTed and re-armed by
    -- hookq_complete
    local keep = tonumber(redis.call('HGET', f[3], 'keep') or '')
    if keep then event_extend(tag, f[3], keep + SLACK) else redis.call('PERSIST', f[3]) end
    redis.call('PERSIST', dk)
  end
  -- (n absent: treated as 0, whatever wrote the hash)
  local sid = redis.call('XADD', stream, '*', 'd', did, 'e', f[2], 'k', f[3], 'n', tonumber(f[4] or '0') + 1,
                         'r', 1)
  redis.call('HSET', dk, 'st', 'pending', 'sid', sid, 'upd', now)
  redis.call('HDEL', dk, 'due', 'reason')
  return 'ok'
end

--[[ hookq_resend: KEYS 1 stream, 2 retry, 3 dead; ARGV 1 tag, 2 delivery id, 3 now.
Returns 'ok', 'pending' (already queued or in flight), 'nodelivery' or 'noevent'. --]]
local function resend(keys, args)
  touch({args[1] .. 'lost', args[1] .. 'dlv:' .. args[2]})
  return requeue(args[1], keys[1], keys[2], keys[3], args[2], args[3])
end

--[[ hookq_recover: re-enqueue the dead deliveries of one endpoint since a time.
KEYS 1 stream, 2 retry, 3 dead; ARGV 1 tag, 2 endpoint id, 3 since ms, 4 now.
Returns the number re-enqueued. --]]
local function recover(keys, args)
  local tag, epid = args[1], args[2]
  local n = 0
  -- bounded: one call re-enqueues at most RECOVER_MAX (the API says so and
  -- the caller can repeat with a later since); a huge dead set must not
  -- block Redis
  local dids = redis.call('ZRANGEBYSCORE', keys[3], args[3], '+inf', 'LIMIT', 0, RECOVER_MAX)
  local pre = {tag .. 'lost'}
  for _, did in ipairs(dids) do
    local dk = tag .. 'dlv:' .. did
    pre[#pre + 1] = dk
    local ev = redis.call('HGET', dk, 'ev')
    if ev then pre[#pre + 1] = ev end
  end
  touch(pre)
  for _, did in ipairs(dids) do
    if redis.call('HGET', tag .. 'dlv:' .. did, 'ep') == epid then
      if requeue(tag, keys[1], keys[2], keys[3], did, args[4]) == 'ok' then n = n + 1 end
    end
  end
  return n
end

--[[ hookq_ep_put: create or replace an endpoint.
KEYS: 1 endpoint hash, 2 org endpoint set
ARGV: 1 endpoint id, 2 cfg JSON, 3 subscription string, 4 active '1'|'0',
      5 org, 6 now, 7 mode 'create'|'update', 8 (update, optional) the
      version the caller read ('' = unconditional)
Re-activating (act '0' -> '1') clears the disabled reason and the failure
streak; other changes keep the streak.
Returns the new version, -1 if mode is update and it does not exist, -2 if
it changed since the caller's read. --]]
local function ep_put(keys, args)
  local epk = keys[1]
  if args[7] == 'update' and redis.call('EXISTS', epk) == 0 then return -1 end
  -- an update made from a read of version ARGV[8] must not overwrite a
  -- change made since (another PATCH, a rotation, a worker disabling it)
  if args[7] == 'update' and args[8] and args[8] ~= '' and redis.call('HGET', epk, 'ver') ~= args[8] then
    return -2
  end
  local was = redis.call('HGET', epk, 'act')
  redis.call('HSET', epk, 'cfg', args[2], 'sub', args[3], 'act', args[4], 'org', args[5], 'upd', args[6])
  if args[7] == 'create' then redis.call('HSET', epk, 'created', args[6], 'fails', '0') end
  if args[4] == '1' and was ~= '1' then
    redis.call('HDEL', epk, 'dis_reason', 'dis_at', 'ff')
    redis.call('HSET', epk, 'fails', '0')
  end
  redis.call('SADD', keys[2], args[1])
  return redis.call('HINCRBY', epk, 'ver', 1)
end

--[[ hookq_ep_del: KEYS 1 endpoint hash, 2 org endpoint set, 3 attempt log;
ARGV 1 endpoint id. Its queued deliveries end as 'cancelled' when a worker
meets them. Returns 1 if it existed. --]]
local function ep_del(keys, args)
  local n = redis.call('DEL', keys[1])
  redis.call('DEL', keys[3])
  redis.call('SREM', keys[2], args[1])
  return n
end

--[[ hookq_rate: the shared per-endpoint rate limit (rate_limit_per_sec),
one fixed window per unix second across every worker.
KEYS: 1 window counter <tag>rl:<endpoint id>:<unix second>
ARGV: 1 limit per second, 2 attempts wanted now
Grants min(wanted, limit - already granted this second), never negative;
the counter expires 2 s after its second. Returns the number granted. --]]
local function rate(keys, args)
  local limit, wanted = tonumber(args[1]), tonumber(args[2])
  if not limit or not wanted or wanted <= 0 then return 0 end
  local used = tonumber(redis.call('GET', keys[1]) or '0')
  local grant = math.min(wanted, limit - used)
  if grant <= 0 then return 0 end
  redis.call('INCRBY', keys[1], grant)
  redis.call('EXPIRE', keys[1], 2)
  return grant
end

redis.register_function('hookq_publish', publish)
redis.register_function('hookq_publish_batch', function(keys, args) return publish_batch(keys, args, 6) end)
redis.register_function('hookq_publish_batch_v2', function(keys, args) return publish_batch(keys, args, 7) end)
redis.register_function{function_name = 'hookq_load', callback = load, flags = {'no-writes'}}
redis.register_function('hookq_complete', complete)
-- The same function under the name this version's workers call: when a
-- process of an older version reloads its library during a rolling upgrade
-- (FUNCTION LOAD REPLACE on every connect), this name disappears, so the
-- new workers get "Function not found" and load this library again, instead
-- of handing the 12-field layout to an old hookq_complete that cannot read
-- it. Older workers keep calling hookq_complete (11 fields), which this
-- library still accepts.
redis.register_function('hookq_complete_v2', complete)
redis.register_function('hookq_promote', promote)
redis.register_function('hookq_reclaim', reclaim)
redis.register_function('hookq_resend', resend)
redis.register_function('hookq_recover', recover)
redis.register_function('hookq_ep_put', ep_put)
redis.register_function('hookq_ep_del', ep_del)
redis.register_function('hookq_rate', rate)

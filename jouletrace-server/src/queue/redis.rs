//! The fleet queue: Redis Streams with one consumer group, for many API nodes and many agents.
//!
//! Why Streams and not lists or Celery's visibility timeouts: a stream entry delivered to a
//! consumer (`XREADGROUP`) stays in the group's pending list (PEL) until it is acknowledged, so a
//! job leased by an agent that dies is still known, with its owner and how long it has been idle.
//! The lease clock *is* that idle time, on Redis's clock (agents' clocks never have to agree):
//!
//! - `submit` stores each job as a hash and appends one entry to the stream (`XADD`);
//! - `lease` takes a re-queued job first (moving its pending entry to the new agent with
//!   `XCLAIM`), else the next new entry (`XREADGROUP … >`), and marks the job running;
//! - `heartbeat` refreshes the entry's idle time with `XCLAIM <owner> 0 … JUSTID` (a long
//!   measurement is never handed to a second agent) and reports a cancellation;
//! - `reap` scans the PEL (`XPENDING`) and takes back entries idle longer than their lease: the
//!   job is queued again (its entry stays pending until the next `lease` claims it) or, after
//!   `max_attempts`, fails as `worker_lost`;
//! - `finish` writes the outcome only for the lease that holds the job, acknowledges and deletes
//!   the entry (`XACK`, `XDEL`) and gives the result hash its TTL (`PEXPIRE`).
//!
//! Every operation is one Lua script, so it is atomic in Redis: two agents can never lease one
//! job, and a stale holder can never finish a job another attempt owns.
//!
//! Why not `XAUTOCLAIM`: it takes every entry idle longer than *one* threshold, but a lease's
//! length is chosen per lease (the [`Queue`] interface, and the conformance suite, lease for
//! milliseconds and for minutes in one queue). `reap` therefore compares each pending entry's
//! idle time with its own lease, which `XPENDING` reports, and the claim itself is `XCLAIM`.
//!
//! Durability is Redis's: with `appendonly yes` and `appendfsync always` a job answered with 202
//! survives a Redis restart or crash (the service guide and the compose file say so; the
//! `everysec` default may lose the last second).
//!
//! Routing by host class: a job that asks for class `c` goes into a stream of its own,
//! `:jobs:c` (with its own `agents` group); an agent of class `c` leases the oldest job of
//! `:jobs` and `:jobs:c` together, an agent of another class never sees `:jobs:c`. Every script
//! that touches a job's entry finds its stream from the job's `host_class`.
//!
//! Keys (all under the namespace, default `jouletrace`): `:jobs` (stream of jobs for any
//! class, group `agents`), `:jobs:<class>` (stream per requested class, group `agents`),
//! `:classes` (set: the classes with a stream), `:waiting:<class>` (sorted set: queued jobs that
//! asked for it), `:job:<id>` (hash), `:seq` (submission counter), `:state:<state>` (sorted
//! sets: by submission for `queued`, by last change otherwise), `:requeued` and
//! `:requeued:<class>` (sorted sets, by submission: queued jobs already delivered), `:finished`
//! (sorted set, by finish time, for `purge`), `:batch:<id>` (list, submission order),
//! `:key_active:<key id>` (set: an API key's unfinished jobs, for its quota); `:cancel`
//! is the pub/sub channel that tells agents at once that a job was cancelled, `:submitted` the
//! one that wakes idle agents when jobs become leasable.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use ::redis::{Client, Connection, RedisError, Script, Value};

use super::{
    CancelOutcome, Counts, Finished, JobId, JobKind, JobRecord, JobState, Lease, LeaseStatus,
    NewJob, Progress, Queue, QueueError, Reaped, UnixTime, worker_lost_outcome,
};

/// The consumer group every agent reads through.
const GROUP: &str = "agents";

/// How long a result is kept when the server does not say (the embedded store's purge runs on
/// the same retention).
pub const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long a call waits for a restarting Redis to finish loading its data.
const LOADING_WAIT: Duration = Duration::from_secs(30);

/// A Redis-backed [`Queue`].
pub struct RedisQueue {
    client: Client,
    /// `host:port/db`, never the password: what errors and logs name.
    display: String,
    ns: String,
    result_ttl: Duration,
    /// Idle connections. Redis serves one command at a time per connection, so concurrent
    /// callers (API handlers, the agent's heartbeat thread) each take their own.
    idle: Mutex<Vec<Connection>>,
    scripts: Scripts,
}

struct Scripts {
    submit: Script,
    lease: Script,
    heartbeat: Script,
    finish: Script,
    cancel: Script,
    reap: Script,
    purge: Script,
    finished_since: Script,
    waiting: Script,
}

/// Shared Lua: Redis's clock as seconds, and how timestamps are stored.
const LUA_PRELUDE: &str = r#"
local ns = ARGV[1]
local S = ns .. ':jobs'
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1e6
end
local function ts(x) return string.format('%.6f', x) end
local function jkey(id) return ns .. ':job:' .. id end
local LEASE_FIELDS = {'lease_owner', 'lease_ms', 'lease_expires_at', 'stage', 'progress'}
-- A job no longer counts against its API key's concurrency quota.
local function unquota(id)
  local k = redis.call('HGET', jkey(id), 'key_id')
  if k then redis.call('SREM', ns .. ':key_active:' .. k, id) end
end
-- Routing: jobs for any class go through S, jobs for class c through S:c (its own stream and
-- consumer group); `requeued` (any) and `requeued:c` hold, by submission, the jobs of each that
-- are queued but already delivered (re-queued after a lease expired, or parked by a lease that
-- took an older job); `waiting:c` holds the queued jobs that asked for c.
local function stream_of(class) if class then return S .. ':' .. class end return S end
local function ready_of(class)
  if class then return ns .. ':requeued:' .. class end
  return ns .. ':requeued'
end
local function unwait(id, class)
  if class then redis.call('ZREM', ns .. ':waiting:' .. class, id) end
end
"#;

/// ARGV: ns, max_active, n, then per job: id, kind, spec, batch, problem, candidate, key,
/// host class (optional fields as `+value` or `-`).
const SUBMIT: &str = r#"
local max = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local active = redis.call('ZCARD', ns .. ':state:queued') + redis.call('ZCARD', ns .. ':state:running')
if active + n > max then return {0, active} end
local now = ts(now_s())
for i = 0, n - 1 do
  local b = 4 + i * 8
  local id = ARGV[b]
  local key = jkey(id)
  local class = false
  if string.sub(ARGV[b + 7], 1, 1) == '+' then class = string.sub(ARGV[b + 7], 2) end
  if class and redis.call('SADD', ns .. ':classes', class) == 1 then
    -- The class's stream and group, from its start (pcall: BUSYGROUP if a lost set is rebuilt).
    redis.pcall('XGROUP', 'CREATE', stream_of(class), 'agents', '0', 'MKSTREAM')
  end
  local seq = redis.call('INCR', ns .. ':seq')
  local entry = redis.call('XADD', stream_of(class), '*', 'job', id)
  redis.call('HSET', key, 'id', id, 'kind', ARGV[b + 1], 'state', 'queued', 'spec', ARGV[b + 2],
    'submitted_at', now, 'updated_at', now, 'attempts', 0, 'seq', seq, 'entry', entry)
  local names = {'batch', 'problem_name', 'candidate_id', 'key_id', 'host_class'}
  for k = 1, 5 do
    local v = ARGV[b + 2 + k]
    if string.sub(v, 1, 1) == '+' then redis.call('HSET', key, names[k], string.sub(v, 2)) end
  end
  redis.call('ZADD', ns .. ':state:queued', seq, id)
  if class then redis.call('ZADD', ns .. ':waiting:' .. class, seq, id) end
  local api_key = ARGV[b + 6]
  if string.sub(api_key, 1, 1) == '+' then
    redis.call('SADD', ns .. ':key_active:' .. string.sub(api_key, 2), id)
  end
  local batch = ARGV[b + 3]
  if string.sub(batch, 1, 1) == '+' then
    redis.call('RPUSH', ns .. ':batch:' .. string.sub(batch, 2), id)
  end
end
-- Idle agents wake at once (they poll too: nothing depends on this message).
redis.call('PUBLISH', ns .. ':submitted', n)
return {1, active}
"#;

/// ARGV: ns, owner, lease_ms, the agent's host class (`+…`/`-`). Returns the job's hash (flat)
/// or nil.
const LEASE: &str = r#"
local owner = ARGV[2]
local lease_ms = tonumber(ARGV[3])
-- The streams this agent may take from: any class, and its own class if a job ever asked for it.
local classes = {false}
if string.sub(ARGV[4], 1, 1) == '+' then
  local c = string.sub(ARGV[4], 2)
  if redis.call('SISMEMBER', ns .. ':classes', c) == 1 then table.insert(classes, c) end
end
for _ = 1, 1000 do
  -- Each stream's next new entry joins its ready set when that is empty: then the oldest job
  -- of a stream is always in its ready set (entries are added in submission order).
  for _, c in ipairs(classes) do
    local ready, st = ready_of(c), stream_of(c)
    while redis.call('ZCARD', ready) == 0 do
      local got = redis.call('XREADGROUP', 'GROUP', 'agents', owner, 'COUNT', 1, 'STREAMS', st, '>')
      if not got then break end
      local e = got[1][2][1]
      local h = redis.call('HMGET', jkey(e[2][2]), 'state', 'seq', 'entry')
      if h[1] == 'queued' and h[3] == e[1] then
        -- Parked: delivered but not running, so `reap` leaves it alone.
        redis.call('ZADD', ready, h[2], e[2][2])
      else
        -- Cancelled or purged before it was leased, or a repeated submit's older entry.
        redis.call('XACK', st, 'agents', e[1])
        redis.call('XDEL', st, e[1])
      end
    end
  end
  -- The oldest job (by submission) of the streams this agent may take from.
  local id, best, class = nil, nil, false
  for _, c in ipairs(classes) do
    local top = redis.call('ZRANGE', ready_of(c), 0, 0, 'WITHSCORES')
    if top[1] and (best == nil or tonumber(top[2]) < best) then
      id, best, class = top[1], tonumber(top[2]), c
    end
  end
  if not id then return false end
  redis.call('ZREM', ready_of(class), id)
  local key = jkey(id)
  local h = redis.call('HMGET', key, 'state', 'entry')
  if h[1] == 'queued' and h[2] then
    -- The entry becomes this agent's: its idle time (the lease clock) restarts at 0.
    redis.call('XCLAIM', stream_of(class), 'agents', owner, 0, h[2], 'JUSTID')
    local now = now_s()
    redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('HSET', key, 'state', 'running', 'lease_owner', owner, 'lease_ms', lease_ms,
      'lease_expires_at', ts(now + lease_ms / 1000), 'started_at', ts(now), 'updated_at', ts(now),
      'stage', 'initializing', 'progress', '0')
    redis.call('ZREM', ns .. ':state:queued', id)
    unwait(id, class)
    redis.call('ZADD', ns .. ':state:running', now, id)
    return redis.call('HGETALL', key)
  end
  if h[2] then
    redis.call('XACK', stream_of(class), 'agents', h[2])
    redis.call('XDEL', stream_of(class), h[2])
  end
end
return false
"#;

/// ARGV: ns, id, owner, attempt, lease_ms, stage (`+…`/`-`), progress (`+…`/`-`).
const HEARTBEAT: &str = r#"
local id, owner, attempt, lease_ms = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local key = jkey(id)
local h = redis.call('HMGET', key, 'state', 'attempts', 'lease_owner', 'entry', 'host_class')
if not h[1] or h[3] ~= owner or tonumber(h[2]) ~= attempt then return 'lost' end
if h[1] == 'cancelled' then return 'cancelled' end
if h[1] ~= 'running' then return 'lost' end
-- Still ours: reset the entry's idle time, which is the lease clock `reap` reads.
redis.call('XCLAIM', stream_of(h[5]), 'agents', owner, 0, h[4], 'JUSTID')
local now = now_s()
redis.call('HSET', key, 'lease_ms', lease_ms, 'lease_expires_at', ts(now + lease_ms / 1000),
  'updated_at', ts(now))
if string.sub(ARGV[6], 1, 1) == '+' then redis.call('HSET', key, 'stage', string.sub(ARGV[6], 2)) end
if string.sub(ARGV[7], 1, 1) == '+' then redis.call('HSET', key, 'progress', string.sub(ARGV[7], 2)) end
redis.call('ZADD', ns .. ':state:running', now, id)
return 'held'
"#;

/// ARGV: ns, id, owner, attempt, state, outcome, result_ttl_ms. Returns 1 if written.
const FINISH: &str = r#"
local id, owner, attempt, state = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local key = jkey(id)
local h = redis.call('HMGET', key, 'state', 'attempts', 'lease_owner', 'entry', 'host_class')
if h[1] ~= 'running' or h[3] ~= owner or tonumber(h[2]) ~= attempt then return 0 end
local now = now_s()
redis.call('HSET', key, 'state', state, 'outcome', ARGV[6], 'finished_at', ts(now), 'updated_at', ts(now))
redis.call('HDEL', key, unpack(LEASE_FIELDS))
unquota(id)
redis.call('ZREM', ns .. ':state:running', id)
redis.call('ZADD', ns .. ':state:' .. state, now, id)
redis.call('ZADD', ns .. ':finished', now, id)
redis.call('XACK', stream_of(h[5]), 'agents', h[4])
redis.call('XDEL', stream_of(h[5]), h[4])
redis.call('PEXPIRE', key, ARGV[7])
return 1
"#;

/// ARGV: ns, id, outcome if queued, outcome if running, result_ttl_ms.
/// Returns {'not_found'} | {'finished', state} | {'cancelled', was}.
const CANCEL: &str = r#"
local id = ARGV[2]
local key = jkey(id)
local h = redis.call('HMGET', key, 'state', 'entry', 'host_class')
if not h[1] then return {'not_found'} end
if h[1] ~= 'queued' and h[1] ~= 'running' then return {'finished', h[1]} end
local now = now_s()
local outcome = ARGV[3]
if h[1] == 'running' then outcome = ARGV[4] end
-- The lease owner stays recorded: its next heartbeat answers `cancelled`.
redis.call('HSET', key, 'state', 'cancelled', 'outcome', outcome, 'finished_at', ts(now), 'updated_at', ts(now))
redis.call('ZREM', ns .. ':state:' .. h[1], id)
redis.call('ZREM', ready_of(h[3]), id)
unwait(id, h[3])
unquota(id)
redis.call('ZADD', ns .. ':state:cancelled', now, id)
redis.call('ZADD', ns .. ':finished', now, id)
redis.call('XACK', stream_of(h[3]), 'agents', h[2])
redis.call('XDEL', stream_of(h[3]), h[2])
redis.call('PEXPIRE', key, ARGV[5])
redis.call('PUBLISH', ns .. ':cancel', id)
return {'cancelled', h[1]}
"#;

/// ARGV: ns, max_attempts, worker_lost outcome, result_ttl_ms.
/// Returns {requeued ids, abandoned ids}.
const REAP: &str = r#"
local max = tonumber(ARGV[2])
local requeued, abandoned = {}, {}
local classes = {false}
for _, c in ipairs(redis.call('SMEMBERS', ns .. ':classes')) do table.insert(classes, c) end
for _, class in ipairs(classes) do
  local st = stream_of(class)
  local start = '-'
  while true do
    local pending = redis.call('XPENDING', st, 'agents', start, '+', 200)
    if #pending == 0 then break end
    for _, p in ipairs(pending) do
      local entry, idle = p[1], tonumber(p[3])
      local rows = redis.call('XRANGE', st, entry, entry)
      local id = rows[1] and rows[1][2][2]
      local h = id and redis.call('HMGET', jkey(id), 'state', 'attempts', 'lease_ms', 'seq') or {}
      if h[1] == 'running' then
        if idle >= tonumber(h[3]) then
          local key = jkey(id)
          local now = now_s()
          redis.call('ZREM', ns .. ':state:running', id)
          redis.call('HDEL', key, unpack(LEASE_FIELDS))
          if tonumber(h[2]) >= max then
            redis.call('HSET', key, 'state', 'failed', 'outcome', ARGV[3], 'finished_at', ts(now),
              'updated_at', ts(now))
            unquota(id)
            redis.call('ZADD', ns .. ':state:failed', now, id)
            redis.call('ZADD', ns .. ':finished', now, id)
            redis.call('XACK', st, 'agents', entry)
            redis.call('XDEL', st, entry)
            redis.call('PEXPIRE', key, ARGV[4])
            table.insert(abandoned, id)
          else
            -- Queued again, ahead of newer jobs (by submission); the entry stays pending under
            -- the dead agent until the next lease claims it.
            redis.call('HSET', key, 'state', 'queued', 'updated_at', ts(now))
            redis.call('ZADD', ns .. ':state:queued', h[4], id)
            redis.call('ZADD', ready_of(class), h[4], id)
            if class then redis.call('ZADD', ns .. ':waiting:' .. class, h[4], id) end
            table.insert(requeued, id)
          end
        end
      elseif h[1] ~= 'queued' then
        -- Finished, cancelled or gone while pending: nothing will ever acknowledge it.
        redis.call('XACK', st, 'agents', entry)
        redis.call('XDEL', st, entry)
      end
      start = '(' .. entry
    end
  end
end
if #requeued > 0 then redis.call('PUBLISH', ns .. ':submitted', #requeued) end
return {requeued, abandoned}
"#;

/// ARGV: ns. Returns {class, queued jobs that asked for it, …}.
const WAITING: &str = r#"
local out = {}
for _, c in ipairs(redis.call('SMEMBERS', ns .. ':classes')) do
  local n = redis.call('ZCARD', ns .. ':waiting:' .. c)
  if n > 0 then
    table.insert(out, c)
    table.insert(out, n)
  end
end
return out
"#;

/// ARGV: ns, before (seconds). Returns how many finished jobs were deleted.
const PURGE: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', ns .. ':finished', '-inf', '(' .. ARGV[2])
for _, id in ipairs(ids) do
  local key = jkey(id)
  local batch = redis.call('HGET', key, 'batch')
  if batch then redis.call('LREM', ns .. ':batch:' .. batch, 0, id) end
  redis.call('DEL', key)
  for _, st in ipairs({'completed', 'failed', 'cancelled'}) do
    redis.call('ZREM', ns .. ':state:' .. st, id)
  end
  redis.call('ZREM', ns .. ':finished', id)
end
return #ids
"#;

/// ARGV: ns, since (seconds). Returns {count, sum of run seconds}.
const FINISHED_SINCE: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', ns .. ':state:completed', ARGV[2], '+inf')
local sum = 0
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', jkey(id), 'started_at', 'finished_at')
  if h[1] and h[2] then sum = sum + math.max(0, tonumber(h[2]) - tonumber(h[1])) end
end
return {#ids, string.format('%.6f', sum)}
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{LUA_PRELUDE}{body}"))
}

/// An optional value as a script argument: `+value` or `-` (so `Some("")` survives).
fn opt(v: Option<&str>) -> String {
    match v {
        Some(v) => format!("+{v}"),
        None => "-".to_owned(),
    }
}

fn millis(d: Duration) -> u64 {
    // Redis rejects a PEXPIRE of 0 as "delete now" semantics we never want; a lease shorter
    // than a millisecond is one millisecond.
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisQueue {
    /// Connects to `url` (`redis://[:password@]host:port[/db]`, or `rediss://` where the client
    /// supports it) and creates the consumer group if it does not exist.
    pub fn connect(url: &str) -> Result<RedisQueue, QueueError> {
        RedisQueue::connect_with(url, "jouletrace", DEFAULT_RESULT_TTL)
    }

    /// As [`connect`](Self::connect), with every key under `namespace` (one Redis can hold
    /// several independent queues: tests, staging) and results kept for `result_ttl`.
    pub fn connect_with(
        url: &str,
        namespace: &str,
        result_ttl: Duration,
    ) -> Result<RedisQueue, QueueError> {
        let client = Client::open(url).map_err(|source| QueueError::Redis {
            server: redact_url(url),
            source,
        })?;
        let info = client.get_connection_info();
        let display = format!("{}/{}", info.addr(), info.redis_settings().db());
        let q = RedisQueue {
            client,
            display,
            ns: namespace.to_owned(),
            result_ttl,
            idle: Mutex::new(Vec::new()),
            scripts: Scripts {
                submit: script(SUBMIT),
                lease: script(LEASE),
                heartbeat: script(HEARTBEAT),
                finish: script(FINISH),
                cancel: script(CANCEL),
                reap: script(REAP),
                purge: script(PURGE),
                finished_since: script(FINISHED_SINCE),
                waiting: script(WAITING),
            },
        };
        q.with(|con| {
            let made: Result<Value, RedisError> = ::redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(q.key("jobs"))
                .arg(GROUP)
                // From the start of the stream: entries written before the group existed (a
                // group lost with its Redis) are still delivered.
                .arg("0")
                .arg("MKSTREAM")
                .query(con);
            match made {
                Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
                other => other.map(drop),
            }
        })?;
        Ok(q)
    }

    /// `host:port/db` of the server (never the password).
    pub fn server(&self) -> &str {
        &self.display
    }

    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// A key under this queue's namespace (the fleet registry keeps its keys beside the jobs).
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.ns)
    }

    /// Runs `f` on a pooled connection. A connection that failed at the transport level is
    /// dropped; one that got a server error is reused. When a *pooled* connection turns out to
    /// be dead (Redis restarted since it was last used), `f` runs once more on a fresh one: every
    /// script is safe to repeat (a repeated submit adds a second stream entry that `lease`
    /// skips, a repeated finish is refused, a lease lost in transit expires and runs again).
    pub fn with<T>(
        &self,
        mut f: impl FnMut(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, QueueError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let was_pooled = pooled.is_some();
        let mut con = match pooled {
            Some(c) => c,
            None => self.open().map_err(|e| self.err(e))?,
        };
        let mut result = f(&mut con);
        if was_pooled && result.as_ref().is_err_and(dead) {
            con = self.open().map_err(|e| self.err(e))?;
            result = f(&mut con);
        }
        // A Redis that just restarted answers LOADING while it replays its append-only file:
        // wait for it (bounded) rather than fail the caller. Nothing ran, so repeating is safe.
        let deadline = std::time::Instant::now() + LOADING_WAIT;
        while result.as_ref().is_err_and(|e| e.code() == Some("LOADING"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
            result = f(&mut con);
        }
        match result {
            Ok(v) => {
                self.give_back(con);
                Ok(v)
            }
            Err(e) => {
                if !dead(&e) {
                    self.give_back(con);
                }
                Err(self.err(e))
            }
        }
    }

    fn give_back(&self, con: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(con);
    }

    /// Calls `on` with the id of every job cancelled from now on (the `:cancel` channel), on a
    /// thread of its own that reconnects after Redis restarts. Cancellation does not depend on
    /// it (the running agent's heartbeat hears it anyway); it makes it immediate.
    pub fn on_cancel(&self, on: impl Fn(JobId) + Send + 'static) {
        self.listen("cancel", move |payload| {
            if let Ok(id) = payload.parse() {
                on(id);
            }
        });
    }

    /// Calls `on` whenever jobs become leasable (submitted, or re-queued by a reap: the
    /// `:submitted` channel), so an idle agent on another host starts at once instead of at its
    /// next poll. Nothing depends on it: agents poll anyway.
    pub fn on_submit(&self, on: impl Fn() + Send + 'static) {
        self.listen("submitted", move |_| on());
    }

    /// Calls `on` with every message on the channel `<ns>:<suffix>`, on a thread of its own that
    /// reconnects after Redis restarts.
    fn listen(&self, suffix: &str, on: impl Fn(&str) + Send + 'static) {
        let client = self.client.clone();
        let channel = self.key(suffix);
        std::thread::Builder::new()
            .name(format!("jouletrace-{suffix}"))
            .spawn(move || {
                loop {
                    let listened = (|| -> Result<(), RedisError> {
                        let mut con = client.get_connection_with_timeout(Duration::from_secs(5))?;
                        let mut sub = con.as_pubsub();
                        sub.subscribe(&channel)?;
                        loop {
                            let msg = sub.get_message()?;
                            let payload: String = msg.get_payload()?;
                            on(&payload);
                        }
                    })();
                    if let Err(e) = listened {
                        tracing::warn!(error = %e, channel, "channel lost; listening again in 1 s");
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
            .expect("spawn a channel listener");
    }

    fn open(&self) -> Result<Connection, RedisError> {
        let con = self
            .client
            .get_connection_with_timeout(Duration::from_secs(5))?;
        // A script scans at most the pending list; a reply slower than this means Redis is gone.
        con.set_read_timeout(Some(Duration::from_secs(30)))?;
        con.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(con)
    }

    fn err(&self, source: RedisError) -> QueueError {
        QueueError::Redis {
            server: self.display.clone(),
            source,
        }
    }

    fn corrupt(&self, message: String) -> QueueError {
        QueueError::Corrupt {
            path: format!("redis {} ({})", self.display, self.ns),
            message,
        }
    }

    fn record(&self, fields: HashMap<String, String>) -> Result<JobRecord, QueueError> {
        let bad = |what: &str| self.corrupt(format!("job hash has a bad or missing {what}"));
        let text = |k: &str| fields.get(k).cloned();
        let time = |k: &str| -> Result<Option<UnixTime>, QueueError> {
            fields
                .get(k)
                .map(|v| v.parse::<f64>().map(UnixTime).map_err(|_| bad(k)))
                .transpose()
        };
        let id: JobId = text("id")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("id"))?;
        let batch = match fields.get("batch") {
            Some(b) => Some(b.parse().map_err(|_| bad("batch"))?),
            None => None,
        };
        let progress = fields.get("stage").map(|stage| Progress {
            stage: stage.clone(),
            progress: fields
                .get("progress")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0.0),
        });
        Ok(JobRecord {
            id,
            kind: match fields.get("kind").map(String::as_str) {
                Some("measure") => JobKind::Measure,
                _ => return Err(bad("kind")),
            },
            state: fields
                .get("state")
                .and_then(|s| JobState::parse(s))
                .ok_or_else(|| bad("state"))?,
            spec: text("spec").ok_or_else(|| bad("spec"))?,
            batch,
            problem_name: text("problem_name"),
            candidate_id: text("candidate_id"),
            key_id: text("key_id"),
            host_class: text("host_class"),
            submitted_at: time("submitted_at")?.ok_or_else(|| bad("submitted_at"))?,
            started_at: time("started_at")?,
            finished_at: time("finished_at")?,
            attempts: fields
                .get("attempts")
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| bad("attempts"))?,
            lease_owner: text("lease_owner"),
            lease_expires_at: time("lease_expires_at")?,
            progress,
            outcome: text("outcome"),
        })
    }

    /// The jobs with these ids, in order, skipping any whose hash has expired.
    fn records(&self, ids: &[String]) -> Result<Vec<JobRecord>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let hashes: Vec<HashMap<String, String>> = self.with(|con| {
            let mut pipe = ::redis::pipe();
            for id in ids {
                pipe.hgetall(self.key(&format!("job:{id}")));
            }
            pipe.query(con)
        })?;
        hashes
            .into_iter()
            .filter(|h| !h.is_empty())
            .map(|h| self.record(h))
            .collect()
    }
}

/// A transport failure: the connection is unusable.
fn dead(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error()
}

/// A Redis URL with its password replaced, for error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn pairs(flat: Vec<String>) -> HashMap<String, String> {
    let mut map = HashMap::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        map.insert(k, v);
    }
    map
}

fn cancelled_outcome(was: JobState) -> String {
    serde_json::json!({
        "error_type": "cancelled",
        "error_message": format!("cancelled by a client while {}", was.as_str()),
    })
    .to_string()
}

impl Queue for RedisQueue {
    fn submit(&self, jobs: &[NewJob], max_active: u64) -> Result<(), QueueError> {
        let mut inv = self.scripts.submit.prepare_invoke();
        inv.arg(&self.ns).arg(max_active).arg(jobs.len());
        for j in jobs {
            let batch = j.batch.map(|b| b.to_string());
            inv.arg(j.id.to_string())
                .arg(match j.kind {
                    JobKind::Measure => "measure",
                })
                .arg(&j.spec)
                .arg(opt(batch.as_deref()))
                .arg(opt(j.problem_name.as_deref()))
                .arg(opt(j.candidate_id.as_deref()))
                .arg(opt(j.key_id.as_deref()))
                .arg(opt(j.host_class.as_deref()));
        }
        let (ok, active): (u8, u64) = self.with(|con| inv.invoke(con))?;
        if ok == 1 {
            Ok(())
        } else {
            Err(QueueError::Full {
                active,
                limit: max_active,
            })
        }
    }

    fn lease(
        &self,
        owner: &str,
        class: Option<&str>,
        ttl: Duration,
    ) -> Result<Option<Lease>, QueueError> {
        let got: Option<Vec<String>> = self.with(|con| {
            self.scripts
                .lease
                .arg(&self.ns)
                .arg(owner)
                .arg(millis(ttl))
                .arg(opt(class))
                .invoke(con)
        })?;
        let Some(flat) = got else { return Ok(None) };
        let job = self.record(pairs(flat))?;
        Ok(Some(Lease {
            attempt: job.attempts,
            owner: owner.to_owned(),
            job,
        }))
    }

    fn heartbeat(
        &self,
        lease: &Lease,
        ttl: Duration,
        progress: Option<&Progress>,
    ) -> Result<LeaseStatus, QueueError> {
        let status: String = self.with(|con| {
            self.scripts
                .heartbeat
                .arg(&self.ns)
                .arg(lease.job.id.to_string())
                .arg(&lease.owner)
                .arg(lease.attempt)
                .arg(millis(ttl))
                .arg(opt(progress.map(|p| p.stage.as_str())))
                .arg(opt(progress.map(|p| p.progress.to_string()).as_deref()))
                .invoke(con)
        })?;
        match status.as_str() {
            "held" => Ok(LeaseStatus::Held),
            "cancelled" => Ok(LeaseStatus::Cancelled),
            "lost" => Ok(LeaseStatus::Lost),
            other => Err(self.corrupt(format!("heartbeat script answered {other:?}"))),
        }
    }

    fn finish(&self, lease: &Lease, finished: &Finished) -> Result<bool, QueueError> {
        let written: u8 = self.with(|con| {
            self.scripts
                .finish
                .arg(&self.ns)
                .arg(lease.job.id.to_string())
                .arg(&lease.owner)
                .arg(lease.attempt)
                .arg(finished.state.as_str())
                .arg(&finished.outcome)
                .arg(millis(self.result_ttl))
                .invoke(con)
        })?;
        Ok(written == 1)
    }

    fn cancel(&self, id: JobId) -> Result<CancelOutcome, QueueError> {
        let reply: Vec<String> = self.with(|con| {
            self.scripts
                .cancel
                .arg(&self.ns)
                .arg(id.to_string())
                .arg(cancelled_outcome(JobState::Queued))
                .arg(cancelled_outcome(JobState::Running))
                .arg(millis(self.result_ttl))
                .invoke(con)
        })?;
        let state = |i: usize| {
            reply
                .get(i)
                .and_then(|s| JobState::parse(s))
                .ok_or_else(|| self.corrupt(format!("cancel script answered {reply:?}")))
        };
        match reply.first().map(String::as_str) {
            Some("not_found") => Ok(CancelOutcome::NotFound),
            Some("finished") => Ok(CancelOutcome::AlreadyFinished(state(1)?)),
            Some("cancelled") => Ok(CancelOutcome::Cancelled { was: state(1)? }),
            _ => Err(self.corrupt(format!("cancel script answered {reply:?}"))),
        }
    }

    fn get(&self, id: JobId) -> Result<Option<JobRecord>, QueueError> {
        let fields: HashMap<String, String> = self.with(|con| {
            ::redis::cmd("HGETALL")
                .arg(self.key(&format!("job:{id}")))
                .query(con)
        })?;
        if fields.is_empty() {
            return Ok(None);
        }
        self.record(fields).map(Some)
    }

    fn batch(&self, batch: JobId) -> Result<Option<Vec<JobRecord>>, QueueError> {
        let ids: Vec<String> = self.with(|con| {
            ::redis::cmd("LRANGE")
                .arg(self.key(&format!("batch:{batch}")))
                .arg(0)
                .arg(-1)
                .query(con)
        })?;
        let jobs = self.records(&ids)?;
        Ok((!jobs.is_empty()).then_some(jobs))
    }

    fn counts(&self) -> Result<Counts, QueueError> {
        let n: Vec<u64> = self.with(|con| {
            let mut pipe = ::redis::pipe();
            for st in JobState::ALL {
                pipe.zcard(self.key(&format!("state:{}", st.as_str())));
            }
            pipe.query(con)
        })?;
        let get = |i: usize| n.get(i).copied().unwrap_or(0);
        Ok(Counts {
            queued: get(0),
            running: get(1),
            completed: get(2),
            failed: get(3),
            cancelled: get(4),
        })
    }

    fn recent(&self, state: JobState, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = self.with(|con| {
            ::redis::cmd("ZRANGE")
                .arg(self.key(&format!("state:{}", state.as_str())))
                .arg(0)
                .arg(limit - 1)
                .arg("REV")
                .query(con)
        })?;
        self.records(&ids)
    }

    fn waiting_by_class(&self) -> Result<BTreeMap<String, u64>, QueueError> {
        let by_class: HashMap<String, u64> =
            self.with(|con| self.scripts.waiting.arg(&self.ns).invoke(con))?;
        Ok(by_class.into_iter().collect())
    }

    fn active_for_key(&self, key_id: &str) -> Result<u64, QueueError> {
        self.with(|con| {
            ::redis::cmd("SCARD")
                .arg(self.key(&format!("key_active:{key_id}")))
                .query(con)
        })
    }

    fn finished_since(&self, since: UnixTime) -> Result<(u64, Option<f64>), QueueError> {
        let (n, sum): (u64, f64) = self.with(|con| {
            self.scripts
                .finished_since
                .arg(&self.ns)
                .arg(format!("{:.6}", since.0))
                .invoke(con)
        })?;
        Ok((n, (n > 0).then(|| sum / n as f64)))
    }

    /// `now` is not used: leases expire on Redis's clock (an entry's idle time), so the API
    /// nodes and agents of a fleet never have to agree on the time.
    fn reap(&self, _now: UnixTime, max_attempts: u32) -> Result<Reaped, QueueError> {
        let (requeued, abandoned): (Vec<String>, Vec<String>) = self.with(|con| {
            self.scripts
                .reap
                .arg(&self.ns)
                .arg(max_attempts)
                .arg(worker_lost_outcome(max_attempts))
                .arg(millis(self.result_ttl))
                .invoke(con)
        })?;
        let ids = |v: Vec<String>| -> Result<Vec<JobId>, QueueError> {
            v.iter()
                .map(|s| {
                    s.parse()
                        .map_err(|_| self.corrupt(format!("bad job id {s:?} in the stream")))
                })
                .collect()
        };
        Ok(Reaped {
            requeued: ids(requeued)?,
            abandoned: ids(abandoned)?,
        })
    }

    fn purge(&self, before: UnixTime) -> Result<usize, QueueError> {
        self.with(|con| {
            self.scripts
                .purge
                .arg(&self.ns)
                .arg(format!("{:.6}", before.0))
                .invoke(con)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("redis://:hunter2@cache:6379/0"),
            "redis://…@cache:6379/0"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }

    #[test]
    fn optional_arguments_keep_empty_strings() {
        assert_eq!(opt(Some("")), "+");
        assert_eq!(opt(None), "-");
    }
}

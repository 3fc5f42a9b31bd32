"""The Lua scripts behind :class:`parley_presence.store.RedisPresenceStore`.

Each one changes presence state and publishes the transition it caused in one atomic
step, so no crash can store a transition without announcing it, or announce it twice.
Each first checks that the caller still holds the leader lease (fencing): a replica that
lost it (paused, partitioned) cannot apply a report out of order.

Announcements are :class:`parley_common.events.RoomEvent` JSON on the conversation's bus
channel (``channel`` .. conversation id), or on the one channel ``channel`` when the
routing is ``single`` (:mod:`parley_common.channels`). On a Redis Cluster a script may
not publish on a shard channel of another slot, so there they go to an outbox list in
presence's own slot, which the service publishes and then trims (at least once: a replica
that crashed in between leaves them to the next leader).
"""

from __future__ import annotations

# Shared helpers, prepended to every script.
_PRELUDE = """
local function pair(c, u) return string.len(c) .. ':' .. c .. u end
-- mode '1': PUBLISH on channel .. c; '0': PUBLISH on channel; 'outbox': RPUSH on the key
-- channel, for the service to SPUBLISH (a script on a cluster may only reach its own slot).
local function announce(channel, mode, event, c, u, at)
  local payload = cjson.encode({
    conversation_id = c, event = event,
    data = {conversationId = c, userId = u, at = at}})
  if mode == 'outbox' then
    redis.call('RPUSH', channel, payload)
    return
  end
  if mode == '1' then channel = channel .. c end
  redis.call('PUBLISH', channel, payload)
end
"""

# KEYS: leader, sockets(c,u), online(c), pending, gateway_sockets(g), gateways, outbox
# ARGV: me, kind, socket, user, conversation, due_ms, at, channel, gateway_entry, gateway, mode
# Returns -1 when not the leader, 1 when the user came online, 2 when an offline was
# scheduled, 0 when nothing changed.
APPLY = (
    _PRELUDE
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local socket, user, conversation = ARGV[3], ARGV[4], ARGV[5]
local member = pair(conversation, user)
if ARGV[2] == 'join' then
  redis.call('SADD', KEYS[6], ARGV[10])
  redis.call('SADD', KEYS[5], ARGV[9])
  if redis.call('SADD', KEYS[2], socket) == 0 then return 0 end
  if redis.call('ZREM', KEYS[4], member) == 1 then return 0 end -- back within the grace period
  if redis.call('SADD', KEYS[3], user) == 1 then
    announce(ARGV[8], ARGV[11], 'user:online', conversation, user, ARGV[7])
    return 1
  end
  return 0
end
redis.call('SREM', KEYS[5], ARGV[9])
if redis.call('SREM', KEYS[2], socket) == 0 then return 0 end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
redis.call('ZADD', KEYS[4], 'NX', ARGV[6], member)
return 2
"""
)

# KEYS: leader, pending, outbox
# ARGV: me, now_ms, at, channel, key base, limit, mode
# Announces user:offline for every pair whose grace period is over and who did not come
# back. Returns the number of offline announcements, -1 when not the leader.
EXPIRE = (
    _PRELUDE
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[6]))
local announced = 0
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[2], member)
  local length, rest = string.match(member, '^(%d+):(.*)$')
  local conversation = string.sub(rest, 1, tonumber(length))
  local user = string.sub(rest, tonumber(length) + 1)
  if redis.call('SCARD', ARGV[5] .. ':sockets:' .. member) == 0 then
    if redis.call('SREM', ARGV[5] .. ':online:' .. conversation, user) == 1 then
      announce(ARGV[4], ARGV[7], 'user:offline', conversation, user, ARGV[3])
      announced = announced + 1
    end
  end
end
return announced
"""
)

# KEYS: leader, gateway_sockets(g), gateways, pending
# ARGV: me, gateway, due_ms, key base
# Drops every socket of a gateway that died without clean disconnects; pairs left without
# sockets go through the grace period like any leave. Returns the sockets dropped.
REAP = (
    _PRELUDE
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local entries = redis.call('SMEMBERS', KEYS[2])
for _, entry in ipairs(entries) do
  local e = cjson.decode(entry) -- [conversation, user, socket]
  local member = pair(e[1], e[2])
  local sockets = ARGV[4] .. ':sockets:' .. member
  if redis.call('SREM', sockets, e[3]) == 1 and redis.call('SCARD', sockets) == 0 then
    redis.call('ZADD', KEYS[4], 'NX', ARGV[3], member)
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[2])
return #entries
"""
)

# KEYS: leader; ARGV: me, ttl_ms. Take or renew the lease; 1 when held by `me`.
LEAD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

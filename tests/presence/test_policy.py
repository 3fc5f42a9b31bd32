"""PROTOCOL §4.4 with a controllable clock, on the memory store and on Redis."""

from __future__ import annotations

from tests.presence.conftest import GRACE_MS, Presence


async def test_first_device_announces_online_once(presence: Presence) -> None:
    presence.join("alice", "phone")
    assert await presence.settle() == [("user:online", "alice")]

    presence.join("alice", "laptop")
    presence.join("alice", "phone")  # a repeated report changes nothing
    assert await presence.settle() == []
    assert await presence.store.online_users(presence.conversation, ["alice", "bob"]) == {"alice"}


async def test_offline_only_when_the_last_device_goes_and_after_the_grace_period(presence: Presence) -> None:
    presence.join("alice", "phone")
    presence.join("alice", "laptop")
    await presence.settle()

    presence.leave("alice", "phone")
    assert await presence.settle() == []
    presence.leave("alice", "laptop")
    assert await presence.settle() == []
    # During the grace period the user still counts as online.
    assert await presence.store.online_users(presence.conversation, ["alice"]) == {"alice"}

    presence.clock.advance(GRACE_MS - 1)
    assert await presence.settle() == []
    presence.clock.advance(1)
    assert await presence.settle() == [("user:offline", "alice")]
    assert await presence.store.online_users(presence.conversation, ["alice"]) == set()


async def test_a_quick_reconnect_makes_no_flicker(presence: Presence) -> None:
    presence.join("alice", "phone")
    await presence.settle()
    presence.leave("alice", "phone")
    await presence.settle()

    presence.clock.advance(GRACE_MS // 2)
    presence.join("alice", "phone-again")
    assert await presence.settle() == []
    presence.clock.advance(GRACE_MS)

    assert await presence.settle() == []
    assert await presence.store.online_users(presence.conversation, ["alice"]) == {"alice"}


async def test_each_conversation_and_user_is_its_own(presence: Presence) -> None:
    presence.join("alice", "s1")
    presence.join("bob", "s2")
    presence.join("alice", "s1", conversation=presence.conversation + "-other")

    announced = await presence.settle()

    assert sorted(announced) == [("user:online", "alice"), ("user:online", "alice"), ("user:online", "bob")]
    presence.leave("bob", "s2")
    await presence.settle()
    presence.clock.advance(GRACE_MS)
    assert await presence.settle() == [("user:offline", "bob")]


async def test_back_online_after_going_offline_is_announced_again(presence: Presence) -> None:
    presence.join("alice", "s1")
    presence.leave("alice", "s1")
    await presence.settle()
    presence.clock.advance(GRACE_MS)
    assert await presence.settle() == [("user:offline", "alice")]

    presence.join("alice", "s2")

    assert await presence.settle() == [("user:online", "alice")]


async def test_odd_ids_do_not_collide(presence: Presence) -> None:
    # "ab" + "c" and "a" + "bc" must stay two different pairs.
    presence.join("c", "s1", conversation="ab")
    presence.join("bc", "s2", conversation="a")
    await presence.settle()
    presence.leave("c", "s1", conversation="ab")
    await presence.settle()
    presence.clock.advance(GRACE_MS)

    assert await presence.settle() == [("user:offline", "c")]
    assert await presence.store.online_users("a", ["bc"]) == {"bc"}

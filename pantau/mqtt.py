"""The MQTT adapter: the only module that imports paho-mqtt.

:class:`Subscriber` receives QoS 1 messages on a persistent session with manual
acknowledgement and hands them to a bounded queue; the caller acknowledges with
:meth:`Subscriber.ack` once a message is durable. :class:`Publisher` publishes and
waits for the broker's acknowledgement. Nothing heavy runs in paho's callbacks.

The subscriber's client reads the socket in blocks (:class:`_BlockReader`): paho
reads each packet with three ``recv`` calls and builds a message object, a
properties object and a topic string per message, about 12 µs of CPU per message;
PUBLISH packets are instead cut out of the block here and handed over as lists, a
block at a time. Every other packet (CONNACK, SUBACK, PINGRESP, …) still goes to
paho's own handling, and so do connecting, keepalive and reconnecting.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from pantau.errors import BrokerUnavailable

if TYPE_CHECKING:  # imported when a subscriber reads (NumPy, compiled kernels)
    from pantau.packets import Published

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def __str__(self) -> str:  # never shows the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def new_client(
    address: BrokerAddress,
    *,
    client_id: str,
    clean: bool,
    manual_ack: bool,
    username: str | None,
    password: str | None,
    kind: type[paho.Client] = paho.Client,
) -> paho.Client:
    """A paho client as Pantau uses them: MQTT 3.1.1, credentials from the arguments or
    else the URL, TLS for ``mqtts://``, reconnecting with a backoff of 1 to 10 s."""
    client = kind(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=paho.MQTTv311,
        manual_ack=manual_ack,
    )
    user = username if username is not None else address.username
    secret = password if password is not None else address.password
    if user:
        client.username_pw_set(user, secret)
    if address.tls:
        client.tls_set()
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


def _wait(event: threading.Event, timeout: float, what: str, address: BrokerAddress) -> None:
    if not event.wait(timeout):
        raise BrokerUnavailable(f"MQTT broker {address} did not answer ({what}) within {timeout}s")


# topics (UTF-8 bytes) and payloads of the messages received, in order, and the ids of
# those among them sent at QoS 1 (to acknowledge)
Handler = Callable[[list[bytes], list[bytes], list[int]], None]


# a block of messages, handed over as spans (see Published)
BlockHandler = Callable[["Published"], None]
Credentials = Callable[[], tuple[str | None, str | None]]  # re-read before each (re)connect


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _connect_packet(client_id: str, username: str, password: str) -> bytes:
    """An MQTT 3.1.1 CONNECT (clean session, username and password), §3.1."""
    header = _utf8("MQTT") + bytes([4, 0x80 | 0x40 | 0x02]) + struct.pack("!H", 10)
    body = header + _utf8(client_id) + _utf8(username) + _utf8(password)
    length, encoded = len(body), bytearray()
    while True:
        digit, length = length % 128, length // 128
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            break
    return bytes([0x10]) + bytes(encoded) + body


def login_answer(address: BrokerAddress, username: str, password: str, timeout: float) -> int:
    """The broker's CONNACK return code for these credentials (0 accepted, 5 not authorised).

    Raises OSError if the broker cannot be reached. Disconnects at once.
    """
    with socket.create_connection((address.host, address.port), timeout=timeout) as raw:
        sock: socket.socket = raw
        if address.tls:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=address.host)
        sock.sendall(_connect_packet(username, username, password))
        answer = b""
        while len(answer) < 4:
            chunk = sock.recv(4 - len(answer))
            if not chunk:
                raise ConnectionResetError("the broker closed the connection")
            answer += chunk
        if answer[0] != 0x20:
            raise ConnectionError(f"unexpected answer to CONNECT: {answer[0]:#x}")
        if answer[3] == 0:
            sock.sendall(b"\xe0\x00")  # DISCONNECT
        return answer[3]


def wait_for_login(
    address: BrokerAddress, username: str, password: str, *, within: float = 2.0
) -> bool:
    """Whether the broker accepts these credentials within ``within`` seconds.

    Used after a reload to confirm that the broker reads the new password file; an
    unreachable broker answers False at once.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            if login_answer(address, username, password, timeout=min(1.0, within)) == 0:
                return True
        except OSError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def prime_session(
    url: str,
    *,
    client_id: str,
    topics: list[str],
    username: str | None,
    password: str | None,
    timeout: float = 5.0,
) -> bool:
    """Create (or keep) a persistent session subscribed to ``topics``, then leave.

    From then on the broker queues QoS 1 messages for ``client_id`` even before its
    owner first connects. Nothing is acknowledged here (manual acknowledgement), so
    a message delivered during the visit is delivered again to the owner.
    """
    address = BrokerAddress.parse(url)
    client = new_client(
        address,
        client_id=client_id,
        clean=False,
        manual_ack=True,
        username=username,
        password=password,
    )
    done = threading.Event()
    accepted: list[bool] = []

    def on_connect(c: paho.Client, u: object, f: object, reason: ReasonCode, p: object) -> None:
        accepted.append(not reason.is_failure)
        if reason.is_failure:
            done.set()
        else:
            c.subscribe([(topic, 1) for topic in topics])

    client.on_connect = on_connect
    client.on_subscribe = lambda *args: done.set()
    try:
        client.connect(address.host, address.port, keepalive=30)
    except OSError:
        return False
    client.loop_start()
    try:
        ok = done.wait(timeout) and accepted == [True]
    finally:
        client.disconnect()
        client.loop_stop()
    return ok


_RECV_BYTES = 256 * 1024
_PUBLISH_QOS0 = 0x30  # fixed header of a PUBLISH, ignoring DUP (0x08) and RETAIN (0x01)
_PUBLISH_QOS1 = 0x32


class _BlockReader(paho.Client):
    """A paho client that reads what the socket holds in one call and cuts the PUBLISH
    packets (QoS 0 and 1) out of it itself (a compiled loop), handing them to
    ``on_published`` (as spans) or ``on_block`` (as lists) a block at a time; other
    packets go to paho's handling, in their order."""

    on_block: Handler | None = None
    on_published: BlockHandler | None = None
    _pending = b""  # the start of a packet whose rest has not arrived yet

    def reconnect(self) -> MQTTErrorCode:
        self._pending = b""  # a new connection starts with a new packet
        return super().reconnect()

    def _packet_read(self) -> MQTTErrorCode:
        try:
            data = self._sock_recv(_RECV_BYTES)
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:
            log.warning("MQTT: failed to receive on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        now = paho.time_func()
        with self._msgtime_mutex:  # what paho's keepalive check reads (both names: the
            self._last_bytes_received = now  # paho 2.2 on
            self._last_msg_in = now  # before paho 2.2
        import numpy as np

        from pantau import packets
        from pantau.packets import CUT_MALFORMED, CUT_OTHER, Published

        raw = self._pending + data if self._pending else data
        view = np.frombuffer(raw, np.uint8)
        most = len(raw) // 2 + 1  # a packet takes two bytes at least
        topic_start, topic_stop, payload_start, payload_stop, mids = (
            np.empty(most, np.int64) for _ in range(5)
        )
        out = np.zeros(6, np.int64)
        pos, rc = 0, MQTTErrorCode.MQTT_ERR_SUCCESS
        while True:
            packets.cut(view, pos, topic_start, topic_stop, payload_start, payload_stop, mids, out)
            status, n, q, stop, body, end = out.tolist()
            if n:  # what came before another packet goes first
                block = Published(
                    raw, topic_start[:n].copy(), topic_stop[:n].copy(),
                    payload_start[:n].copy(), payload_stop[:n].copy(), mids[:q].copy(),
                )  # fmt: skip
                self._deliver(block)
            pos = stop
            if status == CUT_OTHER:
                rc = self._paho_handle(raw[pos], raw[body:end])
                if rc:
                    break
                pos = end
                continue
            if status == CUT_MALFORMED:
                rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
            break
        self._pending = raw[pos:] if rc == MQTTErrorCode.MQTT_ERR_SUCCESS else b""
        return rc

    def _deliver(self, block: Published) -> None:
        if self.on_published is not None:
            self.on_published(block)
        elif self.on_block is not None:
            self.on_block(block.topics(), block.payloads(), block.mids.tolist())

    def _paho_handle(self, command: int, packet: bytes) -> MQTTErrorCode:
        """One packet through paho's own handling (as its ``_packet_read`` would)."""
        self._in_packet = {
            "command": command,
            "have_remaining": 1,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": len(packet),
            "packet": bytearray(packet),
            "to_process": 0,
            "pos": 0,
        }
        try:
            rc: MQTTErrorCode = self._packet_handle()
        except MalformedPacket as exc:
            log.warning("MQTT: malformed packet from the broker: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = {
            "command": 0,
            "have_remaining": 0,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": 0,
            "packet": bytearray(b""),
            "to_process": 0,
            "pos": 0,
        }
        return rc


class Subscriber:
    """Persistent-session QoS 1 subscriber with manual acknowledgement.

    The messages of each block read from the socket go to
    ``handler(topics, payloads, qos1_mids)`` on the network thread (or, if given, to
    ``published(block)``, as spans of the bytes read: see :class:`Published`); it must
    only hand them over (append to a bounded buffer) and may block to push back on
    the broker. The caller acknowledges later with
    :meth:`ack` once the messages are durable.
    """

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        topics: list[str],
        handler: Handler,
        username: str | None = None,
        password: str | None = None,
        credentials: Credentials | None = None,
        keep_trying: bool = False,
        published: BlockHandler | None = None,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.topics = topics
        self.handler = handler
        self.connected = threading.Event()
        self.refused: str | None = None
        self.state = "connecting"
        self.refusals = 0
        self._credentials = credentials
        self._keep_trying = keep_trying
        if credentials is not None:
            username, password = credentials()
        self._client = new_client(
            self.address,
            client_id=client_id,
            clean=False,
            manual_ack=True,
            username=username,
            password=password,
            kind=_BlockReader,
        )
        assert isinstance(self._client, _BlockReader)
        self._client.on_block = handler
        self._client.on_published = published  # if given, instead of ``handler``
        self._client.max_inflight_messages_set(1000)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message  # QoS 2 (not subscribed to) still via paho

    def start(self, timeout: float = 15.0) -> None:
        """Connect, subscribe and start the network thread; raises BrokerUnavailable.

        With ``keep_trying`` nothing raises: a broker that is down or refuses the
        credentials is retried in the background with a backoff of 1 to 10 s, the
        credentials re-read before each attempt; :attr:`state` says how it goes.
        """
        try:
            self._client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            if not self._keep_trying:
                raise BrokerUnavailable(
                    f"cannot connect to MQTT broker {self.address}: {exc}"
                ) from exc
            self.state = f"unreachable: {exc}"
            log.error("cannot connect to MQTT broker %s: %s; retrying", self.address, exc)
            self._client.connect_async(self.address.host, self.address.port, keepalive=30)
            self._client.loop_start()
            return
        self._client.loop_start()
        if self._keep_trying:
            if not self.connected.wait(timeout) or self.refused:
                log.error("MQTT broker %s: %s; retrying with backoff", self.address, self.state)
            return
        _wait(self.connected, timeout, "connect", self.address)
        if self.refused:
            raise BrokerUnavailable(f"MQTT broker {self.address} refused: {self.refused}")

    def _reread_credentials(self) -> None:
        if self._credentials is not None:
            username, password = self._credentials()
            if username:
                self._client.username_pw_set(username, password)

    def ack(self, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages by id, the whole group in one write to the socket.

        paho's public ``ack`` wakes its network thread once per message, which
        dominates the cost at tens of thousands of messages a second. PUBACKs are
        4 bytes each (MQTT 3.1.1 §3.4), so the group goes out as one queued packet.
        """
        from pantau.packets import PUBACK, pubacks

        queue_packet = getattr(self._client, "_packet_queue", None)
        if queue_packet is None or len(mids) < 2:
            for mid in mids:
                self._client.ack(mid, 1)
            return
        for start in range(0, len(mids), 8192):
            part = mids[start : start + 8192]
            queue_packet(PUBACK, pubacks(part), 0, 0)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            self.refusals += 1
            self.state = f"refused: {reason}"
            log.error(
                "MQTT connection to %s refused: %s (attempt %d)%s",
                self.address,
                reason,
                self.refusals,
                "; retrying with backoff, re-reading the credentials" if self._keep_trying else "",
            )
            self._reread_credentials()
            self.connected.set()
            return
        self.refused = None
        self.state = "connected"
        for topic in self.topics:
            client.subscribe(topic, qos=1)
        log.info(
            "connected to MQTT broker %s (session present: %s), subscribed to %s",
            self.address,
            flags.session_present,
            ", ".join(self.topics),
        )
        self.connected.set()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        if self.refused is None:
            self.state = f"disconnected: {reason}"
            log.warning("disconnected from MQTT broker %s: %s; reconnecting", self.address, reason)
        self._reread_credentials()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self.handler([msg.topic.encode()], [bytes(msg.payload)], [msg.mid] if msg.qos == 1 else [])


class Publisher:
    """A publishing client that waits for the broker's acknowledgement of each message."""

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        will: Will | None = None,
        clean_start: bool = True,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self._connected = threading.Event()
        self._answered = threading.Event()
        self._refused: str | None = None
        self._client = new_client(
            self.address,
            client_id=client_id,
            clean=clean_start,
            manual_ack=False,
            username=username,
            password=password,
        )
        self._client.max_inflight_messages_set(100)
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._started = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def connect(self, timeout: float = 10.0) -> None:
        """Connect (and keep reconnecting in the background); raises BrokerUnavailable."""
        self._answered.clear()
        try:
            if not self._started:
                self._client.connect(self.address.host, self.address.port, keepalive=30)
                self._client.loop_start()
                self._started = True
        except OSError as exc:
            raise BrokerUnavailable(f"cannot connect to MQTT broker {self.address}: {exc}") from exc
        _wait(self._answered, timeout, "connect", self.address)
        if self._refused:
            raise BrokerUnavailable(f"MQTT broker {self.address} refused: {self._refused}")

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout: float = 10.0,
    ) -> None:
        """Publish and wait for PUBACK (QoS 1); raise BrokerUnavailable if it does not come."""
        if not self._connected.is_set():
            raise BrokerUnavailable(f"not connected to MQTT broker {self.address}")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE):
            raise BrokerUnavailable(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:
            raise BrokerUnavailable(f"publish to {topic} failed: {exc}") from exc
        if not info.is_published():
            raise BrokerUnavailable(
                f"broker {self.address} did not acknowledge {topic} in {timeout}s"
            )

    def close(self) -> None:
        if self._started:
            self._client.disconnect()
            self._client.loop_stop()
            self._started = False
        self._connected.clear()

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            log.error("MQTT connection to %s refused: %s", self.address, reason)
        else:
            self._refused = None
            self._connected.set()
        self._answered.set()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        log.info("publisher disconnected from %s: %s", self.address, reason)


class WindowedPublisher:
    """Publishes QoS 1 without waiting for each acknowledgement, up to ``window`` in flight.

    :class:`Publisher` waits for each PUBACK, which is right for a service and far too
    slow for thousands of simulated devices. :meth:`publish` blocks only while the
    window is full (back-pressure); ``on_ack`` is called from paho's network thread for
    each acknowledgement (keep it a counter). ``refused`` holds the broker's reason
    once it refused the login; ``answered`` is set by its first CONNACK.
    """

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str,
        username: str | None,
        password: str | None,
        window: int,
        on_ack: Callable[[], None] | None = None,
    ) -> None:
        self.address = address
        self.window = threading.BoundedSemaphore(window)
        self.answered = threading.Event()
        self.refused: str | None = None
        self.sent = 0
        self.acked = 0
        self._on_ack = on_ack
        self._lock = threading.Lock()
        self.client = new_client(
            address,
            client_id=client_id[:64],
            clean=True,
            manual_ack=False,
            username=username,
            password=password,
        )
        self.client.max_inflight_messages_set(window)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish

    def start(self) -> None:
        try:
            self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise BrokerUnavailable(f"cannot connect to MQTT broker {self.address}: {exc}") from exc
        self.client.loop_start()

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    @property
    def outstanding(self) -> int:
        return self.sent - self.acked

    def publish(self, topic: str, payload: bytes, timeout: float) -> bool:
        """Queue one message; False if the window stayed full for ``timeout`` s or paho
        refused it (a message sent while disconnected is kept and sent on reconnect)."""
        if not self.window.acquire(timeout=timeout):
            return False
        # never hold our lock here: paho calls on_publish under its own message lock
        info = self.client.publish(topic, payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self.window.release()
            return False
        with self._lock:
            self.sent += 1
        return True

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.refused = str(reason) if reason.is_failure else None
        self.answered.set()

    def _on_publish(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self.acked += 1
        if self._on_ack is not None:
            self._on_ack()
        self.window.release()

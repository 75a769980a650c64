"""The three contenders: raw aio-pika, FastStream and warren, behind one small interface.

Each one publishes the same event as the same ~600-byte CloudEvents envelope (persistent,
``mandatory``, publisher confirms) and consumes it with manual acks after validating it into the
``OrderPlaced`` contract model. The drivers in ``bench.messaging`` never know which one they hold.
Each contender is written the way a user of that library would write it, without tricks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import aio_pika
import orjson

from bench import workload
from shop_contracts.orders import OrderPlaced
from warren.contracts.envelope import CONTENT_TYPE

OnEvent = Callable[[OrderPlaced, str], None]
"""Called with the validated event and its message id, before the ack."""


class Contender(Protocol):
    """What the drivers need: open (optionally consuming), publish confirmed, close."""

    name: str

    async def open(self, url: str, prefetch: int = 0, on_event: OnEvent | None = None) -> None:
        """Connect; with ``on_event``, start consuming the work queue at ``prefetch``."""

    async def publish(self, event: OrderPlaced, message_id: str) -> None:
        """Publish ``event`` and wait for its confirm."""

    async def close(self) -> None:
        """Stop consuming and close the connection."""


class RawAioPika:
    """aio-pika by hand: robust connection, one confirming channel, one consuming channel."""

    name = "aio-pika"

    async def open(self, url: str, prefetch: int = 0, on_event: OnEvent | None = None) -> None:
        self.connection = await aio_pika.connect_robust(url)
        self.channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self.exchange = await self.channel.get_exchange(workload.EXCHANGE, ensure=False)
        if on_event is not None:
            consuming = await self.connection.channel()
            await consuming.set_qos(prefetch_count=prefetch)
            queue = await consuming.declare_queue(workload.QUEUE, passive=True)

            async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                envelope = workload.OrderPlacedEnvelope.model_validate_json(message.body)
                on_event(envelope.data, envelope.id)
                await message.ack()

            await queue.consume(handle)

    async def publish(self, event: OrderPlaced, message_id: str) -> None:
        now = datetime.now(UTC)
        message = aio_pika.Message(
            workload.envelope_bytes(event, message_id, now),
            **workload.properties(event, message_id, now),
        )
        await self.exchange.publish(message, workload.ROUTING_KEY, mandatory=True)

    async def close(self) -> None:
        await self.connection.close()


class FastStream:
    """FastStream's RabbitBroker: a documented publisher, a typed subscriber, ack after handling.

    The CloudEvents content type is not one FastStream decodes by itself, so the subscriber gets
    the one-line JSON decoder FastStream's docs show; the typed parameter does the validation.
    Per-message logging is switched off (``logger=None``), as warren logs nothing per message.
    """

    name = "faststream"

    async def open(self, url: str, prefetch: int = 0, on_event: OnEvent | None = None) -> None:
        from faststream import AckPolicy
        from faststream.rabbit import (
            Channel,
            ExchangeType,
            QueueType,
            RabbitBroker,
            RabbitExchange,
            RabbitQueue,
        )

        self.broker = RabbitBroker(
            url,
            logger=None,
            default_channel=Channel(publisher_confirms=True, on_return_raises=True),
        )
        exchange = RabbitExchange(
            workload.EXCHANGE, type=ExchangeType.TOPIC, durable=True, declare=False
        )
        self.publisher = self.broker.publisher(
            exchange=exchange,
            routing_key=workload.ROUTING_KEY,
            persist=True,
            mandatory=True,
            content_type=CONTENT_TYPE,
            message_type=OrderPlaced.type,
        )
        if on_event is not None:
            queue = RabbitQueue(
                workload.QUEUE, queue_type=QueueType.QUORUM, durable=True, declare=False
            )

            async def decode(message: Any) -> Any:
                return orjson.loads(message.body)

            @self.broker.subscriber(
                queue,
                channel=Channel(prefetch_count=prefetch),
                ack_policy=AckPolicy.ACK,
                decoder=decode,
                no_reply=True,
            )
            async def handle(envelope: workload.OrderPlacedEnvelope) -> None:
                on_event(envelope.data, envelope.id)

        await self.broker.start()

    async def publish(self, event: OrderPlaced, message_id: str) -> None:
        now = datetime.now(UTC)
        await self.publisher.publish(
            workload.envelope_bytes(event, message_id, now),
            message_id=message_id,
            correlation_id=event.subject,
            timestamp=now,
            app_id=workload.SERVICE,
        )

    async def close(self) -> None:
        await self.broker.stop()


class Warren:
    """warren's ``Broker.publish`` and ``Consumer`` with a ``WorkQueue`` handler table.

    With ``writer`` set (a ``warren.runtime.Writer``), the handler runs as a unit of work: the
    inbox row and one outbox row (the event's confirmation) commit together before the ack.
    """

    name = "warren"

    def __init__(self, writer: Any = None) -> None:
        self.writer = writer
        self.consumer: Any = None

    async def open(self, url: str, prefetch: int = 0, on_event: OnEvent | None = None) -> None:
        from warren.messaging import Broker, Consumer, Delivery

        self.broker = Broker(url, workload.SERVICE)
        await self.broker.connect()
        if on_event is None:
            return
        writer = self.writer

        async def confirm(event: OrderPlaced, store: Any) -> list[Any]:
            return [event]

        async def handle(event: OrderPlaced, delivery: Delivery) -> None:
            if writer is not None:
                await writer.consume(confirm, workload.QUEUE, event, delivery)
            on_event(event, delivery.message_id)

        self.consumer = Consumer(self.broker, workload.work_queue(handle, prefetch))
        await self.consumer.start()

    async def publish(self, event: OrderPlaced, message_id: str) -> None:
        await self.broker.publish(event, event_id=message_id)

    async def close(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        await self.broker.close()


class WarrenSend(Warren):
    """warren's ``Broker.send`` of a message prepared beforehand: the outbox relay's path.

    Isolates the transport (span, headers, window, aio-pika) from building the envelope.
    """

    name = "warren.send"

    async def publish(self, event: OrderPlaced, message_id: str) -> None:
        await self.broker.send(self._message(event, message_id))

    def _message(self, event: OrderPlaced, message_id: str) -> Any:
        message = getattr(self, "_prepared", None)
        if message is None:
            from warren.messaging.message import prepare

            message = self._prepared = prepare(event, service=workload.SERVICE)
        return message


CONTENDERS: dict[str, Callable[[], Contender]] = {
    RawAioPika.name: RawAioPika,
    FastStream.name: FastStream,
    Warren.name: Warren,
    WarrenSend.name: WarrenSend,
}


def new_id() -> str:
    """A fresh message id (a UUID, as warren's outbox requires)."""
    return str(uuid.uuid4())

"""Every telemetry attribute and span-event name Warren emits, in one place.

OpenTelemetry messaging semantic conventions where they exist, ``warren.*`` where they do not.
Constants only.
"""

MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_CONVERSATION_ID = "messaging.message.conversation_id"
MESSAGING_BODY_SIZE = "messaging.message.body.size"
MESSAGING_CONSUMER_GROUP = "messaging.consumer.group.name"
RABBITMQ_ROUTING_KEY = "messaging.rabbitmq.destination.routing_key"
RABBITMQ_DELIVERY_TAG = "messaging.rabbitmq.message.delivery_tag"

CLOUDEVENTS_ID = "cloudevents.event_id"
CLOUDEVENTS_TYPE = "cloudevents.event_type"
CLOUDEVENTS_SOURCE = "cloudevents.event_source"
CLOUDEVENTS_SUBJECT = "cloudevents.event_subject"

WARREN_SERVICE = "warren.service"
WARREN_ATTEMPT = "warren.attempt"
WARREN_OUTCOME = "warren.outcome"
WARREN_ERROR_TYPE = "warren.error.type"
WARREN_RETRY_DELAY = "warren.retry.delay_s"
WARREN_DEAD_LETTER_QUEUE = "warren.dead_letter.queue"

SYSTEM_RABBITMQ = "rabbitmq"

EVENT_RETRY_SCHEDULED = "warren.retry_scheduled"
EVENT_DEAD_LETTERED = "warren.dead_lettered"
EVENT_DUPLICATE_SKIPPED = "warren.duplicate_skipped"

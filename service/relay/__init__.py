"""The outbox relay: delivers committed outbox events to webhooks and RabbitMQ, at least once, in order."""

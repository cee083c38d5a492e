"""Errors of webhook management, each with the HTTP status the management API answers with."""

from __future__ import annotations


class WebhookError(Exception):
    status = 400
    title = "Invalid webhook"


class InvalidSubscription(WebhookError):
    status = 422
    title = "Invalid webhook subscription"


class UnknownSubscription(WebhookError):
    status = 404
    title = "No such webhook"


class UnknownDelivery(WebhookError):
    status = 404
    title = "No such delivery"

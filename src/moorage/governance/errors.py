"""Why a governance request failed; the management API turns each into a problem-details status."""

from __future__ import annotations


class GovernanceError(Exception):
    status = 400
    title = "Invalid request"


class InvalidSettings(GovernanceError):
    status = 422
    title = "Invalid settings"


class RepositoryNotFound(GovernanceError):
    status = 404
    title = "Repository not found"


class RepositoryExists(GovernanceError):
    status = 409
    title = "Repository already exists"


class RepositoryNotEmpty(GovernanceError):
    status = 409
    title = "Repository holds images"


class TemplateNotFound(GovernanceError):
    status = 404
    title = "Creation template not found"


class PermissionDenied(GovernanceError):
    status = 403
    title = "Permission denied"

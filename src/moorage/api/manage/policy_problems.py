"""The one problem an invalid lifecycle policy gets, whichever endpoint it was sent to."""

from __future__ import annotations

from moorage.api.manage.problems import Problem
from moorage.lifecycle.policy import PolicyError


def invalid_policy(error: PolicyError) -> Problem:
    """400 naming the field and rule, as for `PUT …/lifecycle-policy` (ECR: InvalidParameterException)."""
    return Problem(400, "Invalid lifecycle policy", str(error), field=error.field, rulePriority=error.rule_priority)

"""`POST /api/v1/admission/scan-gate`: the scan gate as a Kubernetes validating admission webhook.

The API server posts an `admission.k8s.io/v1` AdmissionReview; the answer is an AdmissionReview
whose `response` echoes the `uid` with `allowed` and a `status` (`code` 403 and a message naming
each refused image when denied). The rules are in `scanning/admission.py`.

Authentication is the management API's: the API server sends `Authorization: Bearer <access
token>` (set in the webhook's kubeconfig, docs/scanning.md), an access token of a user who may pull
the repositories the cluster runs (a `read` grant, e.g. on `*`, and nothing more). An image the
token may not pull is denied as unresolvable. A body that is not an AdmissionReview gets a 400
problem: the API server then applies the webhook's `failurePolicy`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from moorage.api.manage.problems import Problem
from moorage.api.manage.security import CallerDep, authenticated
from moorage.domain.access import Action
from moorage.scanning.admission import AdmissionReviewer, InvalidReview, read_review

router = APIRouter(tags=["admission"])

MAX_REVIEW_BYTES = 3 * 1024 * 1024
"""The API server's own request limit is 3 MiB."""


def reviewer(request: Request) -> AdmissionReviewer:
    found = request.app.state.admission
    assert isinstance(found, AdmissionReviewer)
    return found


@router.post(
    "/admission/scan-gate",
    summary="Validating admission webhook: deny workloads whose images fail the scan gate",
    dependencies=[Depends(authenticated)],
)
async def review(
    request: Request, caller: CallerDep, admission: Annotated[AdmissionReviewer, Depends(reviewer)]
) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_REVIEW_BYTES:
        raise Problem(413, "Request too large", f"an AdmissionReview is at most {MAX_REVIEW_BYTES} bytes")
    try:
        document: Any = json.loads(body)
        parsed = read_review(document)
    except (ValueError, InvalidReview) as error:
        raise Problem(400, "Invalid AdmissionReview", str(error)) from None

    def may_pull(repository: str) -> bool:
        return caller.may(repository, Action.PULL)

    decision = await anyio.to_thread.run_sync(admission.review, parsed, may_pull)
    return JSONResponse(decision.response(parsed.uid))

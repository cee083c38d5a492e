"""Previews "as of" a time, and runs that record who (or what) started them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.functional.helpers import push_image

A_WEEK_OLD = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
            "action": {"type": "expire"},
        }
    ]
}


def test_a_preview_as_of_next_week_shows_what_a_since_pushed_rule_will_expire_then(
    http: httpx.Client, repo: str
) -> None:
    image = push_image(http, repo, "v1")
    url = f"/api/v1/repositories/{repo}/lifecycle-preview"
    today = http.post(url, json=A_WEEK_OLD).json()
    assert today["summary"]["expiring"] == 0
    next_week = (datetime.now(UTC) + timedelta(days=8)).isoformat()
    later = http.post(url, params={"as_of": next_week}, json=A_WEEK_OLD)
    assert later.status_code == 200, later.text
    assert later.json()["asOf"] == next_week
    assert [r["imageDigest"] for r in later.json()["results"] if r["action"] == "expire"] == [image.digest]
    assert http.post(url, params={"as_of": "0001-01-02T00:00:00"}, json=A_WEEK_OLD).status_code == 422
    assert http.get(f"/v2/{repo}/manifests/v1").status_code == 200


def test_a_run_started_through_the_api_records_that_a_person_started_it_and_who(http: httpx.Client) -> None:
    deadline = time.monotonic() + 120
    response = http.post("/api/v1/lifecycle/runs")
    while response.status_code == 409 and time.monotonic() < deadline:  # another test's run holds the lease
        time.sleep(0.5)
        response = http.post("/api/v1/lifecycle/runs")
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["trigger"] == "manual" and run["started_by"] == "anonymous", run

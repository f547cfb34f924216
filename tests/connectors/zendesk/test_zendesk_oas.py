"""Every request body the Zendesk loader sends validates against the official OAS schemas.

The loader runs against a mocked account; each JSON request it sends is matched to its OAS
operation by method and path template and validated against that operation's request-body schema
(``$ref``s resolved inside the spec). A few bulk operations declare no request body in the OAS;
their bodies are checked against the object schema the envelope carries. The sandbox's custom
ticket statuses (``ListCustomStatuses``, and ``custom_status_id`` on imported tickets) are
checked against the response schemas.
"""

from __future__ import annotations

import copy
import re

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from connectors.base import LoadItem
from migrator.models import (
    Agent, Attachment, Comment, EndUser, FieldOption, Group, Membership, Organization, Ticket,
    TicketField,
)
from migrator.models import Entity
from tests.oas_relax import relax

# Operations the OAS lists without a requestBody: envelope key -> object schema.
NO_BODY_SCHEMAS = {
    ("POST", "/api/v2/organizations/create_many"): {
        "type": "object", "required": ["organizations"],
        "properties": {"organizations": {"type": "array", "maxItems": 100, "items": {
            "$ref": "#/components/schemas/OrganizationObject"}}}},
    ("POST", "/api/v2/ticket_fields"): {"$ref": "#/components/schemas/TicketFieldResponse"},
    ("POST", "/api/v2/ticket_fields/{ticket_field_id}/options"): {
        "$ref": "#/components/schemas/CustomFieldOptionResponse"},
}
EXPECTED_OPERATIONS = {
    "CreateManyOrganizations", "CreateOrUpdateManyUsers", "CreateOrUpdateUser", "CreateGroup",
    "GroupMembershipBulkCreate", "CreateTicketField", "CreateOrUpdateTicketFieldOption",
    "TicketBulkImport", "TicketImport", "UploadFiles", "UpdateTicket",
}


class _Loader(yaml.SafeLoader):
    """Tolerates the one ``!!value`` tag in the spec (reference §6.1)."""


_Loader.add_multi_constructor(
    "", lambda loader, suffix, node: loader.construct_scalar(node)
    if isinstance(node, yaml.ScalarNode) else None)


@pytest.fixture(scope="session")
def oas(shared):
    with open(shared / "specs" / "zendesk-support-oas.yaml", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)


def _operation(oas, method, path):
    for template, ops in oas["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "(\\.json)?$"
        if re.match(pattern, path) and method.lower() in ops:
            return template, ops[method.lower()]
    raise AssertionError(f"{method} {path} is not an operation of the Zendesk OAS")


def _schema(oas, method, template, op):
    body = op.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
    else:
        schema = NO_BODY_SCHEMAS[(method, template)]
    return {**schema, "components": oas["components"]}


def _run_loader(target, router, tmp_path):
    (tmp_path / "f.png").write_bytes(b"\x89PNG")
    router.on("GET", "/api/v2/custom_roles", {"custom_roles": [{"id": 77, "name": "Tier 2"}]})
    router.on("GET", "/api/v2/organizations", {"organizations": [], "meta": {"has_more": False}})
    router.on("GET", "/api/v2/groups", {"groups": [], "meta": {"has_more": False}})
    router.on("GET", "/api/v2/group_memberships", {"group_memberships": [],
                                                   "meta": {"has_more": False}})
    router.on("GET", "/api/v2/ticket_fields", {"ticket_fields": [
        {"id": 9, "title": "Existing", "type": "tagger", "custom_field_options": []}],
        "meta": {"has_more": False}})
    router.on("GET", "/api/v2/job_statuses/show_many", lambda r: httpx.Response(200, json={
        "job_statuses": [{"id": r.url.params["ids"], "status": "completed", "results": []}]}))
    for path in ("/api/v2/organizations/create_many", "/api/v2/users/create_or_update_many",
                 "/api/v2/group_memberships/create_many", "/api/v2/imports/tickets/create_many"):
        router.on("POST", path, {"job_status": {"id": path, "status": "queued"}})
    router.on("POST", "/api/v2/users/create_or_update",
              httpx.Response(201, json={"user": {"id": 3}}))
    router.on("POST", "/api/v2/groups", httpx.Response(201, json={"group": {"id": 4}}))
    router.on("POST", "/api/v2/ticket_fields", httpx.Response(201, json={"ticket_field": {
        "id": 10, "title": "Plan", "type": "tagger"}}))
    router.on("POST", "/api/v2/ticket_fields/9/options",
              httpx.Response(201, json={"custom_field_option": {"id": 1}}))
    router.on("POST", "/api/v2/uploads", httpx.Response(201, json={"upload": {"token": "t"}}))
    router.on("POST", "/api/v2/imports/tickets", httpx.Response(201, json={"ticket": {"id": 5}}))
    router.on("GET", "/api/v2/custom_statuses", {"custom_statuses": [
        {"id": 71, "agent_label": "Waiting on vendor", "status_category": "pending",
         "active": True}]})

    def load(entity, *items):
        return target.collect(target.submit(entity, list(items)))

    load(Entity.TICKET_FIELDS,
         LoadItem("f1", TicketField(id="f1", key="Plan", title="Plan", type="dropdown",
                                    options=[FieldOption(value="gold", label="Gold")])),
         LoadItem("f2", TicketField(id="f2", key="Existing", title="Existing", type="dropdown",
                                    options=[FieldOption(value="new_opt", label="New")])))
    load(Entity.ORGANIZATIONS, LoadItem("o1", Organization(id="o1", name="Acme",
                                                           domains=["acme.test"], tags=["x"])))
    load(Entity.END_USERS, LoadItem("u1", EndUser(id="u1", name="C", email="c@x.test",
                                                  organization_id="12", phone="+1 555")))
    load(Entity.AGENTS, LoadItem("a1", Agent(id="a1", name="A", email="a@x.test",
                                             role="Tier 2", suspended=True)))
    load(Entity.GROUPS, LoadItem("g", Group(id="g", name="Billing L1", description="d")))
    load(Entity.MEMBERSHIPS, LoadItem("m", Membership(id="m", agent_id="3", group_id="4",
                                                      default=True)))
    att = Attachment(id="1", file_name="f.png", content_type="image/png", local_path="f.png")
    ticket = Ticket(id="t1", subject="Hi", status="solved", priority="urgent", type="incident",
                    requester_id="3", assignee_id="3", group_id="4", organization_id="12",
                    tags=["a"], custom_fields={"Plan": "gold"},
                    created_at="2020-01-01T00:00:00Z", updated_at="2020-01-02T00:00:00Z",
                    solved_at="2020-01-02T00:00:00Z",
                    comments=[Comment(id="c1", ticket_id="t1", author_id=None, body="b",
                                      created_at="2020-01-01T00:00:00Z", attachments=[att]),
                              Comment(id="c2", ticket_id="t1", author_id="3", body="n",
                                      html_body="<b>n</b>", public=False)])
    vendor = Ticket(id="t3", subject="V", status="waiting on vendor", requester_id="3",
                    comments=[Comment(id="c4", ticket_id="t3", author_id="3", body="v")])
    load(Entity.TICKETS, LoadItem("t1", ticket), LoadItem("t3", vendor))
    # the one-by-one import path (a batch refused as a whole)
    router.on("POST", "/api/v2/imports/tickets/create_many",
              httpx.Response(400, json={"error": "TooManyValues"}))
    no_requester = Ticket(id="t2", subject=None, status="new", requester_id=None,
                          extra={"requester_email": "new@x.test", "requester_name": "New"},
                          comments=[Comment(id="c3", ticket_id="t2", author_id="3", body="")])
    load(Entity.TICKETS, LoadItem("t2", no_requester))
    # a ticket an earlier attempt imported, missing a comment: appended with PUT
    router.on("GET", "/api/v2/tickets", {"tickets": [{"id": 5, "external_id": "t1"}]})
    router.on("GET", "/api/v2/tickets/5", {"ticket": {"id": 5, "status": "open"}})
    router.on("GET", "/api/v2/tickets/5/comments", {"comments": [], "meta": {"has_more": False}})
    router.on("PUT", "/api/v2/tickets/5", {"ticket": {"id": 5}})
    load(Entity.TICKETS, LoadItem("t1", ticket, recovering=True))


def test_loader_request_bodies_validate_against_oas(oas, target, router, tmp_path):
    target.workdir = tmp_path
    _run_loader(target, router, tmp_path)
    seen = set()
    checked = 0
    for request in router.requests:
        if request.method not in ("POST", "PUT"):
            continue
        template, op = _operation(oas, request.method, request.url.path)
        seen.add(op["operationId"])
        if op["operationId"] == "UploadFiles":
            assert request.url.params.get("filename"), "uploads need ?filename="
            continue
        body = router.body(request)
        validator = OAS30Validator(_schema(oas, request.method, template, op))
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(body)]
        assert not errors, f"{op['operationId']} body invalid: {errors}"
        checked += 1
    assert seen == EXPECTED_OPERATIONS
    assert checked >= 9
    imported = router.body(router.calls("POST", "/api/v2/imports/tickets/create_many")[0])
    assert imported["tickets"][1]["custom_status_id"] == 71  # in TicketImportInput, validated


@pytest.mark.parametrize("path,body", [
    ("/api/v2/imports/tickets/create_many", {"tickets": [{"requester_id": "12"}]}),
    ("/api/v2/group_memberships/create_many", {"group_memberships": [{"user_id": 1}]}),
    ("/api/v2/groups", {"group": {"description": "no name"}}),
])
def test_the_schemas_catch_wrong_bodies(oas, path, body):
    template, op = _operation(oas, "POST", path)
    assert list(OAS30Validator(_schema(oas, "POST", template, op)).iter_errors(body))


@pytest.fixture(scope="session")
def relaxed_oas(oas):
    spec = copy.deepcopy(oas)
    relax(spec)
    return spec


def _response_errors(oas, method, path, status, body) -> list[str]:
    template, op = _operation(oas, method, path)
    response = op["responses"][str(status)]
    if "$ref" in response:
        response = oas["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    validator = OAS30Validator({**schema, "components": oas["components"]})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:160]}"
            for e in validator.iter_errors(body)]


@pytest.mark.e2e
def test_sandbox_custom_statuses_answers_match_the_oas(oas, relaxed_oas):
    run = pytest.importorskip("connectors.sandbox.run")
    auth = ("admin@sandbox.test/token", "sandbox-token")
    with run.start_sandbox("zendesk", tickets=2, custom_statuses=True) as on, \
            run.start_sandbox("zendesk", tickets=2) as off:
        assert httpx.get(f"{off.url}/api/v2/custom_statuses", auth=auth).status_code == 404
        with httpx.Client(base_url=on.url, auth=auth) as c:
            listed = c.get("/api/v2/custom_statuses").raise_for_status().json()
            assert not _response_errors(oas, "GET", "/api/v2/custom_statuses", 200, listed)
            rows = listed["custom_statuses"]
            assert {r["agent_label"] for r in rows} >= {"Waiting on vendor",
                                                        "Escalated to engineering"}
            assert set(rows[0]) >= {"id", "agent_label", "status_category", "active",
                                    "default", "end_user_label", "created_at"}
            vendor = next(r for r in rows if r["agent_label"] == "Waiting on vendor")
            pending = c.get("/api/v2/custom_statuses",
                            params={"status_categories": "pending", "default": "false"}).json()
            assert [r["id"] for r in pending["custom_statuses"]] == [vendor["id"]]
            requester = next(iter(on.store.users))
            body = {"ticket": {"subject": "x", "status": "open", "requester_id": requester,
                               "custom_status_id": vendor["id"],
                               "comments": [{"author_id": requester, "value": "hi"}]}}
            made = c.post("/api/v2/imports/tickets", json=body)
            assert made.status_code == 201
            assert not _response_errors(relaxed_oas, "POST", "/api/v2/imports/tickets", 201,
                                        made.json())
            ticket = made.json()["ticket"]
            assert (ticket["status"], ticket["custom_status_id"]) == ("pending", vendor["id"])
            shown = c.get(f"/api/v2/tickets/{ticket['id']}").json()
            assert not _response_errors(relaxed_oas, "GET", f"/api/v2/tickets/{ticket['id']}",
                                        200, shown)
            assert shown["ticket"]["custom_status_id"] == vendor["id"]
            escalated = next(r for r in rows if r["agent_label"] == "Escalated to engineering")
            put = c.put(f"/api/v2/tickets/{ticket['id']}",
                        json={"ticket": {"custom_status_id": escalated["id"]}}).json()["ticket"]
            assert (put["status"], put["custom_status_id"]) == ("open", escalated["id"])
            put = c.put(f"/api/v2/tickets/{ticket['id']}",
                        json={"ticket": {"status": "solved"}}).json()["ticket"]
            solved = next(r for r in rows if r["default"] and r["status_category"] == "solved")
            assert (put["status"], put["custom_status_id"]) == ("solved", solved["id"])
            body["ticket"]["custom_status_id"] = 424242
            refused = c.post("/api/v2/imports/tickets", json=body)
            assert refused.status_code == 422
            assert refused.json()["error"] == "RecordInvalid"
            assert "custom_status_id" in refused.json()["details"]


@pytest.mark.parametrize("entity, before", [
    (Entity.AGENTS, {"name": "Ann A.", "role": "agent", "custom_role_id": 12,
                     "external_id": None, "tags": ["vip"], "suspended": False}),
    (Entity.END_USERS, {"name": "Cy", "role": "end-user", "custom_role_id": None,
                        "external_id": None, "tags": [], "suspended": False, "phone": None,
                        "organization_id": 9})])
def test_rollback_restore_body_validates_against_oas(oas, target, router, entity, before):
    """``migrator rollback`` puts an existing user back with ``PUT /users/{id}`` (UpdateUser)."""
    router.on("PUT", "/api/v2/users/41", {"user": {"id": 41}})
    target.restore(entity, "41", before)
    [put] = router.calls("PUT", "/api/v2/users/41")
    template, op = _operation(oas, "PUT", put.url.path)
    assert op["operationId"] == "UpdateUser"
    schema = _schema(oas, "PUT", template, op)
    errors = [e.message for e in OAS30Validator(schema).iter_errors(router.body(put))]
    assert not errors, errors

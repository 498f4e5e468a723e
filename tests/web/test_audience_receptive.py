"""Receptive segments, contact profiles and UGC through the API and the pages (TestClient) on
a small sandbox world: rebuild, the audience step (interests inferred from engagement and a
simulated campaign with a control group), the ranking, the profile and the UGC section."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dialogo.accounts.models import User, Workspace
from dialogo.audience.demo import refresh_audience
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.context import AppContext
from tests.api.conftest import Api, token_auth
from tests.web.conftest import Browser
from tests.web.test_audience_pages import api, ctx, sandbox  # noqa: F401 - fixtures


def test_receptive_segments_profile_and_ugc(
    api: Api,  # noqa: F811
    signed_in: Browser,
    db: Session,
    ctx: AppContext,  # noqa: F811
    owner: User,
    workspace: Workspace,
    sandbox: int,  # noqa: F811
) -> None:
    auth, _, _ = token_auth(db, owner, ["read", "write"])
    db.commit()
    base = f"/api/v1/workspaces/{workspace.id}"
    assert api.get(f"{base}/audience/experiments", auth=auth).json() == []
    page = signed_in.get(f"/w/{workspace.id}/audience/receptiveness")
    assert page.status_code == 200 and "No past campaign" in page.text
    assert api.post(f"{base}/influence/graph/rebuild", auth=auth).status_code == 200
    result = refresh_audience(
        db,
        workspace.id,
        registry=ctx.providers,
        cipher=CredentialCipher.from_settings(ctx.settings),
    )
    db.commit()
    assert result.contacts > 0 and result.confirmed + result.added > 0
    experiments = api.get(f"{base}/audience/experiments", auth=auth).json()
    assert [e["source"] for e in experiments] == ["sandbox"]
    exp = experiments[0]
    assert exp["treated"] > 0 and exp["control"] > 0
    ranked = api.get(
        f"{base}/audience/experiments/{exp['id']}/receptiveness",
        auth=auth,
        params={"model": "class_transformation"},
    )
    assert ranked.status_code == 200, ranked.text
    body = ranked.json()
    assert body["model"] == "class_transformation" and body["segments"]
    uplifts = [s["uplift"] for s in body["segments"]]
    assert uplifts == sorted(uplifts, reverse=True)
    # A segment of one profile field carries the field and value its label is worded from.
    assert all((s["facet"] is None) == s["saved"] for s in body["segments"])
    assert all(s["value"] in s["label"] for s in body["segments"] if s["facet"])
    bad = api.get(
        f"{base}/audience/experiments/{exp['id']}/receptiveness",
        auth=auth,
        params={"model": "forest"},
    )
    assert bad.status_code == 422
    section = signed_in.get(f"/w/{workspace.id}/audience/receptiveness?model=two_model")
    assert section.status_code == 200 and body["segments"][0]["label"] in section.text
    # a profile with inferred or confirmed interests
    profiles = api.get(f"{base}/audience/profiles", auth=auth, params={"limit": 20}).json()
    cid = profiles["items"][0]["contact_id"]
    profile = api.get(f"{base}/audience/contacts/{cid}/profile", auth=auth).json()
    assert profile["interests"]
    assert any(i["confidence"] is not None for i in profile["interests"])
    shown = signed_in.get(f"/w/{workspace.id}/audience/contacts/{cid}")
    assert shown.status_code == 200 and "Confidence from engagement" in shown.text
    assert api.get(f"{base}/audience/contacts/999999/profile", auth=auth).status_code == 404
    # UGC: the section renders; a bad request is refused with a clear error
    ugc = signed_in.get(f"/w/{workspace.id}/influence/ugc")
    assert ugc.status_code == 200 and "Rights requests" in ugc.text
    refused = api.post(
        f"{base}/influence/ugc/requests",
        auth=auth,
        json={"item_key": "message:999999", "request_text": "May we?"},
    )
    assert refused.status_code == 404
    listed = api.get(f"{base}/influence/ugc/candidates", auth=auth)
    assert listed.status_code == 200

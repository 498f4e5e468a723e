from fastapi.testclient import TestClient

from dialogo.server import create_app
from tests.factories import PASSWORD, make_user, make_workspace


def test_sign_in_and_list_workspaces(ctx, db):
    user = make_user(db)
    make_workspace(db, user, "Caffè Aurora")
    db.commit()
    with TestClient(create_app(ctx)) as client:
        r = client.post("/api/v1/auth/session", json={"email": user.email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        r = client.get("/api/v1/workspaces")
        assert r.status_code == 200
        assert [m["workspace"]["name"] for m in r.json()] == ["Caffè Aurora"]
        assert client.get("/health").json()["status"] == "ok"

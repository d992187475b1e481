"""The ``labbook`` admin verbs, run as real processes against real databases."""

from __future__ import annotations

from tests.databases import run_labbook
from tests.factories import unique


async def test_migrate_twice_says_up_to_date(fresh_url: str) -> None:
    rc, out, _ = await run_labbook(fresh_url, "migrate")
    assert rc == 0
    assert "applied 0001_foundation" in out

    rc, out, _ = await run_labbook(fresh_url, "migrate")

    assert rc == 0
    assert out.strip() == "schema is up to date"


async def test_user_add_and_token_create_give_a_working_token(client, make, database_url: str) -> None:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    email = f"{unique('cli')}@example.kz"

    rc, out, err = await run_labbook(
        database_url,
        "user", "add", "--email", email, "--name", "Aliya Nurlanovna", "--org", host["slug"],
        "--role", "lab_manager", "--role", "admin", "--lab", lab["slug"], "--phone", "+7 727 000 0000",
    )  # fmt: skip
    assert rc == 0, err
    assert f"added Aliya Nurlanovna <{email}>" in out

    rc, out, err = await run_labbook(
        database_url, "token", "create", "--email", email, "--name", "ops", "--days", "7"
    )
    assert rc == 0, err
    secret = out.strip()
    assert secret.startswith("lbk_")
    assert "shown once" in err

    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email
    assert me.json()["roles"] == ["admin", "lab_manager"]
    assert me.json()["managed_labs"] == [lab["slug"]]
    bearer = {"Authorization": f"Bearer {secret}"}
    [token] = (await client.get("/api/v1/me/tokens", headers=bearer)).json()
    assert token["name"] == "ops"

    rc, out, err = await run_labbook(database_url, "token", "revoke", token["id"])
    assert rc == 0, err
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})).status_code == 401


async def test_admin_verbs_explain_what_is_wrong(make, database_url: str) -> None:
    college = await make.organization(kind="college")
    existing = await make.person("director", organization_id=college["id"])

    cases = [
        (("user", "add", "--email", "x@example.kz", "--name", "X", "--org", "no-such-org"), "no-such-org"),
        (
            (
                "user",
                "add",
                "--email",
                "y@example.kz",
                "--name",
                "Y",
                "--org",
                college["slug"],
                "--role",
                "admin",
            ),
            "host university",
        ),
        (
            ("user", "add", "--email", existing.email, "--name", "Z", "--org", college["slug"]),
            "already exists",
        ),
        (("token", "create", "--email", "nobody@example.kz"), "no person"),
        (("token", "revoke", "not-a-uuid"), "not a token id"),
    ]
    for args, message in cases:
        rc, out, err = await run_labbook(database_url, *args)
        assert rc == 2, (args, out, err)
        assert message in err, (args, err)
        assert "Traceback" not in err

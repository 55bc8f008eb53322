from yarl import URL

from callcontrol.web.login import ADDRESS_LIMITER, safe_next
from callcontrol.web.sessions import COOKIE_NAME

PASSWORD = "correct horse battery"  # the password tests/web/conftest.py gives users


async def test_a_page_without_a_user_redirects_to_sign_in_with_next(web_app):
    resp = await web_app.client.get("/test/page?x=1", allow_redirects=False)
    location = URL(resp.headers["Location"])
    assert resp.status == 303
    assert location.path == "/login" and location.query["next"] == "/test/page?x=1"


async def test_an_api_route_without_a_user_answers_401_json(web_app):
    resp = await web_app.client.get("/api/test/echo")
    assert resp.status == 401
    assert (await resp.json())["error"] == "unauthorized"


async def test_sign_in_lands_on_next_with_the_name_in_the_top_bar(web_app):
    await web_app.user("ada", role="supervisor")
    resp = await web_app.login("ada", next_path="/test/page")
    assert resp.status == 303 and resp.headers["Location"] == "/test/page"
    page = await web_app.client.get("/test/page")
    html = await page.text()
    assert page.status == 200
    assert '<span class="who-name">ada</span>' in html
    assert '<span class="role-badge">supervisor</span>' in html


async def test_wrong_password_is_refused_and_signs_nobody_in(web_app):
    await web_app.user("ada")
    resp = await web_app.login("ada", "wrong password")
    assert resp.status == 401
    assert "Wrong username or password." in await resp.text()
    page = await web_app.client.get("/test/page", allow_redirects=False)
    assert page.status == 303


async def test_unknown_user_gets_the_same_answer_as_a_wrong_password(web_app):
    resp = await web_app.login("nobody", "whatever-123")
    assert resp.status == 401
    assert "Wrong username or password." in await resp.text()


async def test_empty_fields_get_a_clear_message(web_app):
    resp = await web_app.login("", "")
    assert resp.status == 400
    assert "Enter your username and password." in await resp.text()


async def test_sixth_failure_for_a_username_is_rate_limited_even_with_the_right_password(web_app):
    await web_app.user("ada")
    for _ in range(5):
        assert (await web_app.login("ada", "wrong password")).status == 401
    resp = await web_app.login("ada", PASSWORD)
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins. Try again in" in await resp.text()


async def test_failures_from_one_address_across_usernames_are_rate_limited(web_app):
    await web_app.user("bob")
    assert web_app.app[ADDRESS_LIMITER].limit == 20
    web_app.app[ADDRESS_LIMITER].limit = 5  # the same rule, fewer argon2 checks to wait for
    for n in range(5):
        assert (await web_app.login(f"guess{n}", "wrong password")).status == 401
    assert (await web_app.login("bob", PASSWORD)).status == 429


async def test_sign_in_without_the_form_token_is_refused(web_app):
    await web_app.user("ada")
    await web_app.client.get("/login")
    resp = await web_app.client.post("/login", data={"username": "ada", "password": PASSWORD},
                                     allow_redirects=False)
    assert resp.status == 403
    assert "security token" in await resp.text()


async def test_sign_out_ends_the_session(web_app):
    await web_app.user("ada")
    await web_app.login("ada")
    token = await web_app.csrf("/test/page")
    resp = await web_app.client.post("/logout", data={"csrf_token": token},
                                     allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login?signed_out=1"
    page = await web_app.client.get("/test/page", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/login")
    notice = await web_app.client.get("/login?signed_out=1")
    assert "You have signed out." in await notice.text()


async def test_sign_out_without_the_token_is_refused(web_app):
    await web_app.user("ada")
    await web_app.login("ada")
    resp = await web_app.client.post("/logout", allow_redirects=False)
    assert resp.status == 403
    assert (await web_app.client.get("/test/page", allow_redirects=False)).status == 200


async def test_a_new_session_starts_at_sign_in(web_app):
    await web_app.user("ada")
    before = await web_app.csrf()
    await web_app.login("ada")
    after = await web_app.csrf("/test/page")
    assert before != after


async def test_next_pointing_off_site_is_replaced_by_the_home_page(web_app):
    await web_app.user("ada")
    resp = await web_app.login("ada", next_path="//evil.example/steal")
    assert resp.status == 303 and resp.headers["Location"] == "/"


def test_only_same_site_paths_are_accepted_as_next():
    assert safe_next("/cc/contacts/7?tab=jobs") == "/cc/contacts/7?tab=jobs"
    for hostile in ["https://evil.example/", "//evil.example", "/\\evil.example",
                    "javascript:alert(1)", "evil.example", "/\t/evil.example", "", None,
                    "http:/evil.example"]:
        assert safe_next(hostile) == "/", hostile


async def test_session_cookie_is_httponly_lax_and_secure_only_behind_https(web_app):
    await web_app.user("ada")
    resp = await web_app.login("ada")
    cookie = resp.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    await web_app.user("bob")
    resp = await web_app.login("bob", headers={"X-Forwarded-Proto": "https"})
    assert resp.cookies[COOKIE_NAME]["secure"] is True
    assert PASSWORD not in resp.cookies[COOKIE_NAME].value


async def test_signed_in_user_visiting_login_goes_to_next(web_app):
    await web_app.user("ada")
    await web_app.login("ada")
    resp = await web_app.client.get("/login?next=/test/page", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/test/page"


async def test_root_redirects_to_the_communication_centre(web_app):
    resp = await web_app.client.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/cc"


async def test_a_deactivated_user_is_signed_out_at_the_next_request(web_app):
    from sqlalchemy import update

    from callcontrol.crm.models import User

    await web_app.user("ada")
    await web_app.login("ada")
    assert (await web_app.client.get("/test/page", allow_redirects=False)).status == 200
    async with web_app.sessions() as session, session.begin():
        await session.execute(update(User).where(User.username == "ada").values(active=False))
    resp = await web_app.client.get("/test/page", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")


async def test_a_role_change_takes_effect_without_signing_in_again(web_app):
    from sqlalchemy import update

    from callcontrol.crm.models import User

    await web_app.user("ada", role="agent")
    await web_app.login("ada")
    assert (await web_app.client.get("/test/admin")).status == 403
    async with web_app.sessions() as session, session.begin():
        await session.execute(update(User).where(User.username == "ada").values(role="admin"))
    assert (await web_app.client.get("/test/admin")).status == 200


async def test_a_forged_session_cookie_counts_as_no_session(web_app):
    web_app.client.session.cookie_jar.update_cookies({COOKIE_NAME: "gAAAAA-not-a-real-token"})
    resp = await web_app.client.get("/test/page", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")



async def test_failures_on_one_process_count_on_another_through_redis(
        make_web, redis_url, unique_name):
    from callcontrol.web.login import REDIS_PREFIX

    def namespaced(app):
        app[REDIS_PREFIX] = unique_name + ":"

    first = await make_web(redis_url=redis_url, before_start=namespaced)
    second = await make_web(redis_url=redis_url, before_start=namespaced)  # same database
    await first.user("ada")
    for attempt in range(5):
        web = (first, second)[attempt % 2]
        assert (await web.login("ada", "wrong password")).status == 401
    assert (await second.login("ada", PASSWORD)).status == 429
    assert (await first.login("ada", PASSWORD)).status == 429


async def test_sign_in_and_a_page_on_postgresql(make_web, postgres_database):
    web = await make_web(database_url=postgres_database)
    await web.user("ada", role="admin")
    assert (await web.login("ada", next_path="/test/admin")).status == 303
    resp = await web.client.get("/test/admin")
    assert resp.status == 200 and '<span class="who-name">ada</span>' in await resp.text()

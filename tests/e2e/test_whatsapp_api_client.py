"""GraphClient against a real HTTP server on loopback playing Meta's Graph API (tests/fakes/graph_api.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels.whatsapp_api import (
    GraphClient,
    GraphError,
    GraphUnavailableError,
    ListRow,
    ListSection,
    OutsideWindowError,
    RateLimitedError,
    UndeliverableError,
    error_from_response,
)
from tests.fakes.graph_api import (
    DEFAULT_APP_SECRET,
    FakeGraphAPI,
    LoopbackServer,
    button_reply,
    document_message,
    post_webhook,
    sign,
    status_event,
    text_message,
)
from tests.fakes.graph_api import graph_api as graph_api  # the fixture (a conftest may provide it instead)

USER = "628000000001"  # made-up WhatsApp ids
OTHER = "628000000002"


@pytest.fixture
async def client(graph_api: FakeGraphAPI) -> AsyncIterator[GraphClient]:
    async with GraphClient(**graph_api.client_kwargs) as graph_client:
        yield graph_client


def _rows(count: int, prefix: str = "slot") -> list[ListRow]:
    return [
        ListRow(f"{prefix}-{i}", f"Senin 7 Juli {8 + i:02d}.00", "WITA, Ruang Rapat Wali Kota") for i in range(count)
    ]


# ------------------------------------------------------------------------------------------ sending


async def test_send_text_returns_wamid_and_fake_records_payload(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    wamid = await client.send_text(USER, "Permohonan audiensi Anda sudah kami terima.")

    assert wamid.startswith("wamid.")
    record = graph_api.last_sent(USER)
    assert record["id"] == wamid
    assert record["type"] == "text"
    assert record["payload"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": USER,
        "type": "text",
        "text": {"preview_url": False, "body": "Permohonan audiensi Anda sudah kami terima."},
    }


async def test_text_at_limit_is_sent_and_over_limit_is_refused_before_sending(
    client: GraphClient, graph_api: FakeGraphAPI
) -> None:
    await client.send_text(USER, "a" * 4096)
    with pytest.raises(ValueError, match="4096"):
        await client.send_text(USER, "a" * 4097)
    with pytest.raises(ValueError, match="empty"):
        await client.send_text(USER, "   ")
    assert len(graph_api.requests) == 1


async def test_three_reply_buttons_with_header_and_footer(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    buttons = [("approve:42", "Setujui"), ("reject:42", "Tolak"), ("propose:42", "Usulkan waktu lain")]

    await client.send_buttons(
        USER, "Permohonan #42 menunggu keputusan.", buttons, header="Audiensi", footer="Kesbangpol"
    )

    interactive = graph_api.last_sent(USER)["payload"]["interactive"]
    assert interactive["type"] == "button"
    assert interactive["header"] == {"type": "text", "text": "Audiensi"}
    assert interactive["footer"] == {"text": "Kesbangpol"}
    assert [b["reply"] for b in interactive["action"]["buttons"]] == [
        {"id": "approve:42", "title": "Setujui"},
        {"id": "reject:42", "title": "Tolak"},
        {"id": "propose:42", "title": "Usulkan waktu lain"},
    ]


async def test_four_buttons_raise_value_error_before_any_request(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    buttons = [(f"b{i}", f"Pilihan {i}") for i in range(4)]
    with pytest.raises(ValueError, match="1 to 3"):
        await client.send_buttons(USER, "Pilih satu", buttons)
    assert graph_api.requests == []


async def test_button_title_limit_is_20_characters(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    await client.send_buttons(USER, "Pilih", [("ok", "x" * 20)])
    with pytest.raises(ValueError, match="button title"):
        await client.send_buttons(USER, "Pilih", [("ok", "x" * 21)])
    with pytest.raises(ValueError, match="button id"):
        await client.send_buttons(USER, "Pilih", [("i" * 257, "ok")])
    with pytest.raises(ValueError, match="unique"):
        await client.send_buttons(USER, "Pilih", [("a", "Sama"), ("b", "Sama")])
    assert len(graph_api.sent(USER)) == 1


async def test_list_with_ten_rows_in_two_sections(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    sections = [ListSection("Pagi", _rows(5, "pagi")), ListSection("Siang", _rows(5, "siang"))]

    await client.send_list(USER, "Pilih jadwal audiensi:", "Lihat jadwal", sections)

    action = graph_api.last_sent(USER)["payload"]["interactive"]["action"]
    assert action["button"] == "Lihat jadwal"
    assert [s["title"] for s in action["sections"]] == ["Pagi", "Siang"]
    assert sum(len(s["rows"]) for s in action["sections"]) == 10
    assert action["sections"][0]["rows"][0] == {
        "id": "pagi-0",
        "title": "Senin 7 Juli 08.00",
        "description": "WITA, Ruang Rapat Wali Kota",
    }


async def test_list_limits_are_checked_before_sending(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    with pytest.raises(ValueError, match="11 rows"):
        await client.send_list(USER, "Pilih", "Lihat", [ListSection(None, _rows(11))])
    with pytest.raises(ValueError, match="11 rows"):
        await client.send_list(
            USER, "Pilih", "Lihat", [ListSection("A", _rows(6, "a")), ListSection("B", _rows(5, "b"))]
        )
    with pytest.raises(ValueError, match="row title"):
        await client.send_list(USER, "Pilih", "Lihat", [ListSection(None, [ListRow("r", "t" * 25)])])
    with pytest.raises(ValueError, match="row description"):
        await client.send_list(USER, "Pilih", "Lihat", [ListSection(None, [ListRow("r", "t", "d" * 73)])])
    with pytest.raises(ValueError, match="section title"):
        await client.send_list(USER, "Pilih", "Lihat", [ListSection("s" * 25, _rows(1))])
    with pytest.raises(ValueError, match="section titles are required"):
        await client.send_list(
            USER, "Pilih", "Lihat", [ListSection(None, _rows(1, "a")), ListSection(None, _rows(1, "b"))]
        )
    with pytest.raises(ValueError, match="list button label"):
        await client.send_list(USER, "Pilih", "L" * 21, [ListSection(None, _rows(1))])
    with pytest.raises(ValueError, match="interactive body"):
        await client.send_list(USER, "b" * 1025, "Lihat", [ListSection(None, _rows(1))])
    assert graph_api.requests == []

    # exactly at every limit is accepted by the client and by the fake
    await client.send_list(
        USER, "b" * 1024, "L" * 20, [ListSection("s" * 24, [ListRow("r" * 200, "t" * 24, "d" * 72)])]
    )
    assert len(graph_api.sent(USER)) == 1


async def test_template_with_body_parameters_and_quick_reply_payloads(
    client: GraphClient, graph_api: FakeGraphAPI
) -> None:
    graph_api.register_template("pengingat_audiensi", "id", body_param_count=2, quick_reply_count=2)

    wamid = await client.send_template(
        USER,
        "pengingat_audiensi",
        "id",
        ["Senin, 7 Juli 2025 pukul 10.00 WITA", "Wali Kota"],
        ["confirm:42", "cancel:42"],
    )

    record = graph_api.last_sent(USER)
    assert record["id"] == wamid
    assert record["payload"]["template"] == {
        "name": "pengingat_audiensi",
        "language": {"code": "id"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Senin, 7 Juli 2025 pukul 10.00 WITA"},
                    {"type": "text", "text": "Wali Kota"},
                ],
            },
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": "confirm:42"}],
            },
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "1",
                "parameters": [{"type": "payload", "payload": "cancel:42"}],
            },
        ],
    }


async def test_template_errors(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    graph_api.register_template("keputusan", "id", body_param_count=1)

    with pytest.raises(GraphError) as unknown:
        await client.send_template(USER, "tidak_ada", "id", ["x"])
    assert (unknown.value.status, unknown.value.code) == (404, 132001)

    with pytest.raises(GraphError) as wrong_count:
        await client.send_template(USER, "keputusan", "id", ["a", "b"])
    assert wrong_count.value.code == 132000

    with pytest.raises(ValueError, match="132018"):
        await client.send_template(USER, "keputusan", "id", ["baris satu\nbaris dua"])
    assert graph_api.sent() == []


async def test_bsuid_recipient_is_sent_as_recipient_not_to(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    bsuid = "ID.13491208655302741918"
    await client.send_text(bsuid, "Halo")
    payload = graph_api.last_sent(bsuid)["payload"]
    assert payload["recipient"] == bsuid
    assert "to" not in payload


async def test_mark_read_with_typing_indicator(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    await client.mark_read("wamid.IN000001", typing_indicator=True)
    assert graph_api.reads == ["wamid.IN000001"]
    assert graph_api.sent() == []


# -------------------------------------------------------------------------------------------- media


async def test_media_url_and_download_return_the_same_bytes(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    content = b"%PDF-1.4\r\n--boundary-like\r\n\x00\xff" * 100
    media_id = graph_api.add_media(content, "application/pdf", "surat-permohonan.pdf")

    info = await client.get_media_url(media_id)
    assert info.id == media_id
    assert info.mime_type == "application/pdf"
    assert info.file_size == len(content)
    assert info.sha256 == hashlib.sha256(content).hexdigest()

    assert await client.download_media(info.url) == content


async def test_download_enforces_max_bytes_and_refuses_foreign_plain_http(
    client: GraphClient, graph_api: FakeGraphAPI
) -> None:
    media_id = graph_api.add_media(b"x" * 1000, "image/jpeg")
    info = await client.get_media_url(media_id)
    with pytest.raises(GraphError, match="larger than"):
        await client.download_media(info.url, max_bytes=999)
    with pytest.raises(ValueError, match="non-https"):
        await client.download_media("http://example.invalid/media/1")


async def test_unknown_media_id_is_a_graph_error(client: GraphClient) -> None:
    with pytest.raises(GraphError) as error:
        await client.get_media_url("1999999999999999")
    assert (error.value.status, error.value.code, error.value.subcode) == (400, 100, 33)


async def test_upload_then_send_document(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    content = b"Jadwal audiensi\r\n\r\nbinary\x00part"
    media_id = await client.upload_media(content, "application/pdf", "jadwal.pdf")
    assert graph_api.media(media_id) == (content, "application/pdf", "jadwal.pdf")

    await client.send_document(USER, media_id=media_id, filename="jadwal.pdf", caption="Jadwal minggu ini")
    assert graph_api.last_sent(USER)["payload"]["document"] == {
        "id": media_id,
        "filename": "jadwal.pdf",
        "caption": "Jadwal minggu ini",
    }


# ------------------------------------------------------------------------------------------- errors


async def test_131047_outside_window_and_templates_still_go_through(
    client: GraphClient, graph_api: FakeGraphAPI
) -> None:
    graph_api.register_template("pengingat_audiensi", "id", body_param_count=0)
    graph_api.window_closed_for(USER)

    with pytest.raises(OutsideWindowError) as error:
        await client.send_text(USER, "Halo lagi")
    assert error.value.code == 131047
    assert error.value.outside_window and not error.value.retryable
    await client.send_template(USER, "pengingat_audiensi", "id")
    await client.send_text(OTHER, "Jendela orang lain tetap terbuka")
    assert [r["type"] for r in graph_api.sent()] == ["template", "text"]


async def test_fail_next_131047_fails_once_then_recovers(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    graph_api.fail_next(131047)
    with pytest.raises(OutsideWindowError):
        await client.send_text(USER, "satu")
    await client.send_text(USER, "dua")
    assert [r["text"] for r in graph_api.sent(USER)] == ["dua"]


@pytest.mark.parametrize("code", [130429, 131056])
async def test_rate_limits_are_retryable(client: GraphClient, graph_api: FakeGraphAPI, code: int) -> None:
    graph_api.fail_next(code, times=2)
    for _ in range(2):
        with pytest.raises(RateLimitedError) as error:
            await client.send_text(USER, "cepat sekali")
        assert error.value.code == code and error.value.retryable and error.value.rate_limited
    await client.send_text(USER, "akhirnya")


async def test_131026_undeliverable(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    graph_api.fail_next(131026)
    with pytest.raises(UndeliverableError):
        await client.send_text(USER, "tidak sampai")


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_is_graph_unavailable(client: GraphClient, graph_api: FakeGraphAPI, status: int) -> None:
    graph_api.fail_next_http(status)
    with pytest.raises(GraphUnavailableError) as error:
        await client.send_text(USER, "server sibuk")
    assert error.value.status == status and error.value.retryable


async def test_timeout_and_refused_connection_are_graph_unavailable(graph_api: FakeGraphAPI) -> None:
    graph_api.delay_next(1.0)
    async with GraphClient(**graph_api.client_kwargs, timeout=0.2) as slow:
        with pytest.raises(GraphUnavailableError, match="timeout"):
            await slow.send_text(USER, "lambat")

    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kwargs = graph_api.client_kwargs
    kwargs["base_url"] = f"http://127.0.0.1:{port}"
    async with GraphClient(**kwargs) as nowhere:
        with pytest.raises(GraphUnavailableError) as error:
            await nowhere.send_text(USER, "halo?")
    assert error.value.status == 0


async def test_wrong_token_is_401_and_the_token_never_leaks(
    graph_api: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    secret_token = "EAAG-not-the-right-token-123"
    kwargs = graph_api.client_kwargs
    kwargs["access_token"] = secret_token
    caplog.set_level(logging.DEBUG)
    async with GraphClient(**kwargs) as wrong:
        with pytest.raises(GraphError) as error:
            await wrong.send_text(USER, "isi pesan rahasia")
        assert secret_token not in repr(wrong)
    assert (error.value.status, error.value.code) == (401, 190)
    assert error.value.unauthorized
    assert type(error.value) is GraphError
    for text in (str(error.value), repr(error.value), caplog.text):
        assert secret_token not in text
        assert "isi pesan rahasia" not in text
        assert USER not in text


async def test_fake_itself_rejects_what_meta_rejects(graph_api: FakeGraphAPI) -> None:
    """Bypass the client's own checks: the fake answers 131009 like Meta for out-of-limit payloads."""
    url = f"{graph_api.base_url}/{graph_api.api_version}/{graph_api.phone_number_id}/messages"
    headers = {"Authorization": f"Bearer {graph_api.access_token}"}

    def buttons(n: int, title: str = "ok") -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "to": USER,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Pilih"},
                "action": {
                    "buttons": [{"type": "reply", "reply": {"id": f"b{i}", "title": f"{title}{i}"}} for i in range(n)]
                },
            },
        }

    def rows(n: int) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "to": USER,
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "Pilih"},
                "action": {
                    "button": "Lihat",
                    "sections": [{"rows": [{"id": f"r{i}", "title": "t"} for i in range(n)]}],
                },
            },
        }

    async with httpx.AsyncClient() as http:
        for payload in (buttons(4), buttons(1, "x" * 20), rows(11)):
            response = await http.post(url, json=payload, headers=headers)
            error = error_from_response(response.status_code, response.content)
            assert (error.status, error.code) == (400, 131009), response.text
        ok = await http.post(url, json=rows(10), headers=headers)
        assert ok.status_code == 200
        assert ok.json()["contacts"] == [{"input": USER, "wa_id": USER}]
        assert ok.json()["messages"][0]["id"].startswith("wamid.")
        no_product = await http.post(url, json={"to": USER, "type": "text", "text": {"body": "x"}}, headers=headers)
        assert error_from_response(no_product.status_code, no_product.content).code == 100


async def test_wait_for_sent_reports_what_was_sent(client: GraphClient, graph_api: FakeGraphAPI) -> None:
    await client.send_text(USER, "pesan pertama")
    first = await graph_api.wait_for_sent(USER)
    assert first["text"] == "pesan pertama"
    with pytest.raises(AssertionError, match="pesan pertama"):
        await graph_api.wait_for_sent(USER, lambda r: "kedua" in r["text"], timeout=0.1)
    with pytest.raises(AssertionError, match="nothing was sent"):
        graph_api.last_sent(OTHER)


# -------------------------------------------------------------------------------- webhook payloads


async def test_post_webhook_signs_the_exact_bytes_it_sends() -> None:
    received: list[tuple[bytes, str | None]] = []

    async def receive(request: Request) -> Response:
        body = await request.body()
        received.append((body, request.headers.get("x-hub-signature-256")))
        expected = "sha256=" + hmac.new(DEFAULT_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", ""))
        return JSONResponse({"ok": ok}, status_code=200 if ok else 401)

    app = Starlette(routes=[Route("/webhooks/whatsapp", receive, methods=["POST"])])
    payload = text_message(USER, "Selamat pagi, Pak Wali 👋 — café", user_id="ID.13491208655302741918")
    with LoopbackServer(app) as server:
        url = f"{server.base_url}/webhooks/whatsapp"
        good = await post_webhook(url, payload, DEFAULT_APP_SECRET)
        bad = await post_webhook(url, payload, DEFAULT_APP_SECRET, signature="sha256=" + "0" * 64)
        missing = await post_webhook(url, payload, DEFAULT_APP_SECRET, signature="")
    assert (good.status_code, bad.status_code, missing.status_code) == (200, 401, 401)
    body, signature = received[0]
    assert signature == sign(body, DEFAULT_APP_SECRET)
    assert b"\\ud83d\\udc4b" in body and b"caf\\u00e9" in body  # escaped like Meta signs it
    assert json.loads(body) == payload
    assert received[2][1] is None


def test_inbound_payloads_follow_metas_documented_shape() -> None:
    text = text_message(USER, "halo", user_id="ID.1", name="Budi", message_id="wamid.A", timestamp=1751000000)
    assert text["object"] == "whatsapp_business_account"
    change = text["entry"][0]["changes"][0]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert set(value["metadata"]) == {"display_phone_number", "phone_number_id"}
    assert value["contacts"] == [{"profile": {"name": "Budi"}, "wa_id": USER, "user_id": "ID.1"}]
    assert value["messages"] == [
        {
            "from": USER,
            "from_user_id": "ID.1",
            "id": "wamid.A",
            "timestamp": "1751000000",
            "type": "text",
            "text": {"body": "halo"},
        }
    ]

    username_only = text_message(None, "halo", user_id="ID.2", username="budi.rt05")
    message = username_only["entry"][0]["changes"][0]["value"]["messages"][0]
    assert "from" not in message and message["from_user_id"] == "ID.2"

    reply = button_reply(USER, "approve:42", "Setujui", context_message_id="wamid.OUT")["entry"][0]["changes"][0][
        "value"
    ]
    assert reply["messages"][0]["context"]["id"] == "wamid.OUT"
    assert reply["messages"][0]["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "approve:42", "title": "Setujui"},
    }

    doc = document_message(USER, "123", "surat.pdf", "application/pdf", "ab" * 32, caption="Surat")
    assert doc["entry"][0]["changes"][0]["value"]["messages"][0]["document"] == {
        "filename": "surat.pdf",
        "mime_type": "application/pdf",
        "sha256": "ab" * 32,
        "id": "123",
        "caption": "Surat",
    }

    failed = status_event(USER, "wamid.OUT", "failed")["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert failed["status"] == "failed" and failed["recipient_id"] == USER
    assert failed["errors"][0]["code"] == 131047 and failed["errors"][0]["title"] == "Re-engagement message"

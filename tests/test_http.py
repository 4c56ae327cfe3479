"""The Bot API request layer (``StreamRequest``), spoken to a loopback Bot API server."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import policy
from email.parser import BytesParser

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.error import BadRequest, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.http import StreamRequest, form
from tests.fake_bot_api import FakeBotAPI, LoopbackTelegram, buttons, callback_update

USER = 6060
KEYBOARD = [("Yes", "v1:a1:3:yes"), ("No", "v1:a1:3:no")]


@pytest.fixture
async def loopback() -> AsyncIterator[tuple[FakeBotAPI, Bot]]:
    api = FakeBotAPI()
    server = LoopbackTelegram(api)
    await server.start()
    bot = Bot(
        api.token,
        base_url=f"{server.url}/bot",
        request=StreamRequest(),
        get_updates_request=StreamRequest(connections=2),
    )
    try:
        async with bot:
            yield api, bot
    finally:
        await server.stop()


def markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in KEYBOARD]]
    )


async def test_keyboards_reach_telegram_whole(loopback: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = loopback
    sent = await bot.send_message(USER, "Is the practice new here?", reply_markup=markup())
    assert buttons(api.last(USER)) == KEYBOARD
    # The answer leaves the keyboard out: the bot built it and never reads it back.
    assert sent.reply_markup is None
    assert sent.text == "Is the practice new here?"
    edited = await bot.edit_message_text(
        "Is the practice new here? (edited)", USER, sent.message_id, reply_markup=markup()
    )
    # The edited message is not read back either: the edit is acknowledged as done.
    assert edited is True
    assert api.last(USER)["text"] == "Is the practice new here? (edited)"
    assert buttons(api.last(USER)) == KEYBOARD
    assert api.violations == []


async def test_a_failed_edit_still_raises(loopback: tuple[FakeBotAPI, Bot]) -> None:
    _api, bot = loopback
    sent = await bot.send_message(USER, "Is the practice new here?", reply_markup=markup())
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text(
            "Is the practice new here?", USER, sent.message_id, reply_markup=markup()
        )


async def test_a_pressed_button_arrives_without_its_keyboard(
    loopback: tuple[FakeBotAPI, Bot],
) -> None:
    api, bot = loopback
    await bot.send_message(USER, "Is the practice new here?", reply_markup=markup())
    question = api.last(USER)
    api.queue(callback_update(USER, KEYBOARD[0][1], question))
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None
    assert query.data == KEYBOARD[0][1]
    assert isinstance(query.message, Message)
    assert query.message.message_id == question["message_id"]
    assert query.message.reply_markup is None
    assert buttons(question) == KEYBOARD  # the double's own record is untouched


async def test_a_photo_goes_up_as_a_form(loopback: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = loopback
    chart = b"\xff\xd8\xff" + bytes(range(256)) * 4
    await bot.send_photo(USER, chart, caption="<b>Radar</b>", filename="chart.jpg")
    (upload,) = api.files_in(USER)
    assert (upload.method, upload.filename, upload.content) == ("sendPhoto", "chart.jpg", chart)
    # A large file too (an export), on the connection the small calls share.
    export = bytes(range(256)) * 12_000
    await bot.send_document(USER, io.BytesIO(export), filename="answers.xlsx")
    await bot.send_message(USER, "Sent.")
    assert api.files_in(USER)[-1].content == export
    assert api.violations == []


def test_a_form_is_multipart_as_the_standard_reads_it() -> None:
    caption = 'Zupas virtuve "Ķekava"\r\n<b>2/3</b>'
    content = b"%PDF-1.7\r\n--not-a-boundary\r\n" + bytes(range(256))
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", USER),
            RequestParameter.from_input("caption", caption),
            RequestParameter.from_input("document", InputFile(content, 'report "v2".pdf')),
        ]
    )
    content_type, body = form(data)
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    assert message.is_multipart()
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    assert set(parts) == {"chat_id", "caption", "document"}
    assert parts["chat_id"].get_payload(decode=True) == b"6060"
    assert parts["caption"].get_payload(decode=True) == caption.encode()
    document = parts["document"]
    assert document.get_filename() == "report %22v2%22.pdf"
    assert document.get_content_type() == "application/pdf"
    assert document.get_payload(decode=True) == content


@asynccontextmanager
async def answering(
    *responses: bytes | None, heads: list[bytes] | None = None
) -> AsyncIterator[str]:
    """A server on loopback answering each request with the next of ``responses`` as they
    are (``None``: no answer at all), then closing the connection when a response asks;
    the requests' heads go to ``heads``."""
    queue = list(responses)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while queue:
                head = await reader.readuntil(b"\r\n\r\n")
                if heads is not None:
                    heads.append(head)
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                response = queue.pop(0)
                if response is None:
                    await reader.read()  # until the client gives up and hangs up
                    return
                writer.write(response)
                await writer.drain()
                if b"connection: close" in response.lower():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/botTOKEN/"
    finally:
        server.close()


def json_call(value: int) -> RequestData:
    return RequestData([RequestParameter.from_input("value", value)])


async def test_chunked_answers_and_closed_connections_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b'5\r\n{"ok"\r\n10;ext=1\r\n:true,"result":1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    unsized = b'HTTP/1.0 200 OK\r\n\r\n{"ok":true,"result":2}'
    request = StreamRequest()
    await request.initialize()
    heads: list[bytes] = []
    try:
        async with answering(chunked, heads=heads) as first, answering(unsized) as second:
            assert await request.do_request(f"{first}getMe", "POST", json_call(1)) == (
                200,
                b'{"ok":true,"result":1}',
            )
            authority = first.split("/")[2]  # with the port, which is not HTTP's own
            assert heads[0].startswith(b"POST /botTOKEN/getMe HTTP/1.1\r\n")
            assert f"\r\nHost: {authority}\r\n".encode() in heads[0]
            # The first server hung up as it said it would: the next call opens anew.
            assert await request.do_request(f"{second}getMe", "POST", json_call(2)) == (
                200,
                b'{"ok":true,"result":2}',
            )
    finally:
        await request.shutdown()


async def test_a_call_nobody_answers_times_out_and_the_next_goes_through() -> None:
    ok = b'HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n{"ok":true,"result":3}'
    request = StreamRequest()
    await request.initialize()
    try:
        async with answering(None) as silent, answering(ok) as working:
            silence = request.do_request(
                f"{silent}getMe", "POST", json_call(1), read_timeout=0.2, write_timeout=0
            )
            with pytest.raises(TimedOut):  # not the test's own time limit, TimeoutError
                await asyncio.wait_for(silence, 10)
            assert await request.do_request(f"{working}getMe", "POST", json_call(2)) == (
                200,
                b'{"ok":true,"result":3}',
            )
    finally:
        await request.shutdown()

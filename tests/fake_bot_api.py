"""A Bot API double that records every call and rejects what Telegram rejects.

``FakeBotAPI`` holds the chats' messages; ``FakeRequest`` plugs it into python-telegram-bot
at the request layer (no network), and ``LoopbackTelegram`` serves it over HTTP for a real
``sicheck run`` process. Each call is checked against Telegram's limits: text at most 4096
characters, captions 1024, callback data 64 bytes, valid HTML, no edit to identical content.

Given ``Limits``, it also keeps Telegram's budget: message calls (sends and edits) at most
``bot_rate`` a second for the bot and ``chat_rate`` a second per chat after a burst of
``chat_burst``, answered with 429 and ``retry_after`` beyond that; a callback query can be
answered once, within ``callback_ttl`` seconds of its delivery, else 400 "query is too old".
Both ``FakeRequest`` and ``LoopbackTelegram`` inject faults (``Faults``): 429, 500, 502 with
nginx's HTML page, a connection that fails before the call is written (``REFUSED``), one
dropped before the call is applied (``DROP``) and one dropped after (``AFTER``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import re
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

import httpx
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

BOT_USER = {
    "id": 100,
    "is_bot": True,
    "first_name": "SI Check",
    "username": "sicheck_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
     "tg-spoiler", "span", "blockquote", "tg-emoji"}
)  # fmt: skip
TEXT_MAX = 4096
CAPTION_MAX = 1024
PHOTO_MAX = 10 * 1024 * 1024
DOCUMENT_MAX = 50 * 1024 * 1024
CALLBACK_DATA_MAX = 64
DROP = object()
"""A fault: close the connection before the call is applied (the client cannot tell)."""
AFTER = object()
"""A fault: apply the call, then close the connection unanswered."""
REFUSED = object()
"""A fault: the connection is never made, so the call cannot have reached Telegram."""
BAD_GATEWAY = object()
"""A fault: nginx's 502 HTML page instead of the Bot API's JSON (the call is not applied)."""
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
MESSAGE_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageCaption",
     "editMessageReplyMarkup", "sendMediaGroup", "copyMessage", "forwardMessage"}
)  # fmt: skip
"""The calls Telegram counts against the bot's and each chat's message budget."""
EDIT_METHODS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup"})
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CALLBACK_ANSWER_MAX = 200
BUTTON_LABEL_MAX = 64
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


class _HTMLCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.plain: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self.problems.append(f"unsupported tag <{tag}>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.problems.append("unescaped < or >")
        self.plain.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.problems.append(f"unsupported entity &{name};")
        self.plain.append("x")

    def handle_charref(self, name: str) -> None:
        self.plain.append("x")


def html_problems(text: str) -> tuple[list[str], int]:
    """Problems of ``text`` as Telegram HTML, and its length once parsed."""
    if re.search(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)", text):
        return ["bare &"], len(text)
    parser = _HTMLCheck()
    parser.feed(text)
    parser.close()
    problems = parser.problems + [f"unclosed <{tag}>" for tag in parser.open]
    return problems, len("".join(parser.plain))


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """Telegram's budget; ``scaled(k)`` runs the same budget ``k`` times faster."""

    bot_rate: float = 30
    chat_rate: float = 1
    chat_burst: int = 5
    callback_ttl: float = 10

    def scaled(self, factor: float) -> Limits:
        """The same limits with time running ``factor`` times faster."""
        return Limits(
            self.bot_rate * factor,
            self.chat_rate * factor,
            self.chat_burst,
            self.callback_ttl / factor,
        )


class _Bucket:
    """A token bucket: ``capacity`` calls at once, refilled at ``rate`` a second."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.level = capacity
        self.at = time.monotonic()

    def wait(self, now: float) -> float:
        """Seconds until a call may be made (0: now)."""
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.level >= 1 else (1 - self.level) / self.rate

    def take(self) -> None:
        self.level -= 1


@dataclass
class Faults:
    """Fails ``rate`` of the calls of ``methods`` with each kind of ``kinds``, reproducibly."""

    rate: float
    seed: int = 8
    kinds: tuple[str, ...] = ("429", "500", "502", "dropped_before", "dropped_after")
    methods: frozenset[str] = MESSAGE_METHODS | {"answerCallbackQuery"}
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def __call__(self, method: str) -> Any:
        """The fate of one call of ``method``: a fault, or ``None``."""
        if method not in self.methods:
            return None
        draw = self._rng.random()
        for index, kind in enumerate(self.kinds):
            if draw < self.rate * (index + 1):
                self.counts[kind] = self.counts.get(kind, 0) + 1
                return FATES[kind]
        return None


class BotAPIError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The error as the Bot API's JSON answer."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


FATES: dict[str, Any] = {
    "429": BotAPIError(429, "Too Many Requests: retry after 1", retry_after=1),
    "500": BotAPIError(500, "Internal Server Error"),
    "502": BAD_GATEWAY,
    "refused": REFUSED,
    "dropped_before": DROP,
    "dropped_after": AFTER,
}


@dataclass(frozen=True)
class Upload:
    chat_id: int
    method: str
    filename: str
    content: bytes
    caption: str | None


@dataclass
class FakeBotAPI:
    """The Bot API's behaviour that SI Check relies on, kept in memory."""

    token: str = "123:abc"
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    confirmed_offset: int = 0
    polls: int = 0
    """How many ``getUpdates`` calls were answered."""
    webhook: str | None = None
    failure: Any = None
    """``failure(method) -> BotAPIError | Exception | None``, to simulate a flaky Bot API."""
    observer: Any = None
    """``observer(method, params, result)``, told of every call answered successfully."""
    keep_calls: bool = True
    """Whether ``calls`` records every call (a long load run turns it off)."""
    limits: Limits | None = None
    """Telegram's budget and callback expiry, kept when given."""
    refused: int = 0
    """429 answers given for flood control."""
    message_calls: int = 0
    """Message calls applied (sends and edits)."""
    expired_answers: int = 0
    """Callback answers that came too late or a second time."""
    answer_latencies: list[float] = field(default_factory=list)
    """Seconds from a callback query's delivery to its (first, accepted) answer."""
    duplicates: int = 0
    """Bot messages that repeat the chat's previous one with nothing from the user between."""
    repeated_after_applied: dict[str, int] = field(default_factory=dict)
    """Calls made again, by method, after Telegram had applied them (their answer was lost)."""
    _delivered: dict[str, float] = field(default_factory=dict)
    _answered: set[str] = field(default_factory=set)
    _bot_bucket: _Bucket | None = None
    _chat_buckets: dict[Any, _Bucket] = field(default_factory=dict)
    _last_sent: dict[int, str] = field(default_factory=dict)
    _lost_answers: dict[Any, set[str]] = field(default_factory=dict)
    _handed_out: set[int] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _chats: dict[int, set[tuple[int, int]]] = field(default_factory=dict)
    _updates_waiting: asyncio.Event | None = None
    _progress: asyncio.Condition | None = None

    async def wait_for(self, predicate: Any, seconds: float = 30) -> None:
        """Wait until ``predicate()`` holds; it is checked after every Bot API call."""
        if self._progress is None:
            self._progress = asyncio.Condition()
        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(predicate), seconds)

    async def _notify(self) -> None:
        if self._progress is not None:
            async with self._progress:
                self._progress.notify_all()

    # The chat as a person sees it

    def chat(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in ``chat_id``, oldest first."""
        keys = sorted(self._chats.get(chat_id, ()))
        return [self.messages[key] for key in keys if key in self.messages]

    def _keep(self, message: dict[str, Any]) -> dict[str, Any]:
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        self.messages[(chat_id, message_id)] = message
        self._chats.setdefault(chat_id, set()).add((chat_id, message_id))
        return message

    def last(self, chat_id: int) -> dict[str, Any]:
        """The bot's latest text message in ``chat_id`` (photos and documents are files)."""
        return [message for message in self.chat(chat_id) if "text" in message][-1]

    def files_in(self, chat_id: int) -> list[Upload]:
        """The photos and documents sent to ``chat_id``, oldest first."""
        return [upload for upload in self.uploads if upload.chat_id == chat_id]

    def calls_to(self, method: str) -> list[Call]:
        """Every recorded call of ``method``."""
        return [call for call in self.calls if call.method == method]

    # Updates for getUpdates

    def queue(self, update: dict[str, Any]) -> None:
        """Make ``update`` available to ``getUpdates``."""
        self.pending.append(update)
        if self._updates_waiting is not None:
            self._updates_waiting.set()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polls += 1
        offset = int(params.get("offset") or 0)
        if offset:
            self.confirmed_offset = max(self.confirmed_offset, offset)
            while self.pending and self.pending[0]["update_id"] < offset:
                self.pending.popleft()
            await self._notify()
        if not self.pending and params.get("timeout"):
            self._updates_waiting = asyncio.Event()
            try:
                await asyncio.wait_for(self._updates_waiting.wait(), float(params["timeout"]))
            except TimeoutError:
                pass
            finally:
                self._updates_waiting = None
        limit = int(params.get("limit") or 100)
        batch = list(itertools.islice(self.pending, limit))
        for update in batch:
            if update["update_id"] not in self._handed_out:
                self._handed_out.add(update["update_id"])
                self.delivered(update)
        return batch

    # Telegram's budget

    def delivered(self, update: dict[str, Any]) -> None:
        """Note that ``update`` reached the bot: the user acted, a callback query's clock runs."""
        query = update.get("callback_query")
        source = query or next(
            (update[kind] for kind in ("message", "edited_message") if kind in update), None
        )
        if source is not None:
            chat = (source.get("message") or source).get("chat", {}).get("id")
            self._last_sent.pop(chat, None)
            # What the bot does after the user acted again is no repeat of a lost call.
            self._lost_answers.pop(chat, None)
        if query is not None:
            self._delivered.setdefault(str(query["id"]), time.monotonic())

    def unanswered(self) -> int:
        """Callback queries delivered and never answered in time."""
        return sum(1 for query in self._delivered if query not in self._answered)

    def note(self, method: str, params: dict[str, Any]) -> None:
        """Record a call that reached the server but failed before it was applied."""
        if self.keep_calls:
            self.calls.append(Call(method, params))

    def lost(self, method: str, params: dict[str, Any]) -> None:
        """The answer to this applied call never reached the bot."""
        self._lost_answers.setdefault(params.get("chat_id"), set()).add(_call_key(method, params))

    def _flood_control(self, method: str, params: dict[str, Any]) -> None:
        limits = self.limits
        if limits is None or method not in MESSAGE_METHODS:
            return
        now = time.monotonic()
        if self._bot_bucket is None:
            self._bot_bucket = _Bucket(limits.bot_rate, limits.bot_rate)
        chat = params.get("chat_id")
        bucket = self._chat_buckets.get(chat)
        if bucket is None:
            bucket = self._chat_buckets[chat] = _Bucket(limits.chat_burst, limits.chat_rate)
        wait = max(self._bot_bucket.wait(now), bucket.wait(now))
        if wait > 0:
            self.refused += 1
            seconds = max(1, math.ceil(wait))
            raise BotAPIError(429, f"Too Many Requests: retry after {seconds}", seconds)
        self._bot_bucket.take()
        bucket.take()

    def _answer_query(self, params: dict[str, Any]) -> None:
        query = str(params.get("callback_query_id"))
        delivered = self._delivered.get(query)
        now = time.monotonic()
        late = (
            self.limits is not None
            and delivered is not None
            and now - delivered > self.limits.callback_ttl
        )
        if query in self._answered or late:
            self.expired_answers += 1
            raise BotAPIError(400, QUERY_TOO_OLD)
        self._answered.add(query)
        if delivered is not None:
            self.answer_latencies.append(now - delivered)

    def _sent(self, method: str, result: Any) -> None:
        """Count the call, and a new message that repeats the chat's previous one."""
        if method not in MESSAGE_METHODS:
            return
        self.message_calls += 1
        if method in EDIT_METHODS or not isinstance(result, dict):
            return
        chat = result["chat"]["id"]
        shown = json.dumps(
            [method, result.get("text"), result.get("caption"), result.get("reply_markup")],
            sort_keys=True,
        )
        if self._last_sent.get(chat) == shown:
            self.duplicates += 1
        self._last_sent[chat] = shown

    # One call

    async def handle(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call as Telegram would, recording it.

        ``failure`` may answer with an error instead, or raise a ``NetworkError`` as a
        dropped connection does (the request layer sees no HTTP answer at all).
        """
        if self.keep_calls:
            self.calls.append(Call(method, params))
        lost = self._lost_answers.get(params.get("chat_id"))
        if lost:
            key = _call_key(method, params)
            if key in lost:
                lost.discard(key)
                self.repeated_after_applied[method] = (
                    self.repeated_after_applied.get(method, 0) + 1
                )
        injected = self.failure(method) if self.failure is not None else None
        if isinstance(injected, NetworkError):
            await self._notify()
            raise injected
        try:
            if isinstance(injected, BotAPIError):
                raise injected
            self._flood_control(method, params)
            result = await self._dispatch(method, params, files or {})
            self._sent(method, result)
        except BotAPIError as error:
            return error.code, error.body()
        finally:
            await self._notify()
        if self.observer is not None:
            self.observer(method, params, result)
        return 200, {"ok": True, "result": result}

    async def webhook_answered(self, body: bytes) -> None:
        """Apply the Bot API call a response to a webhook POST carries, as Telegram does.

        Telegram tells the bot nothing about that call, so its answer is dropped here too, and
        so is a failure ``failure`` injects into it.
        """
        if not body.strip():
            return
        call = json.loads(body)
        method = call.pop("method", None) if isinstance(call, dict) else None
        if not isinstance(method, str):
            self.violations.append(f"webhook answered without a method: {body[:80]!r}")
            return
        with suppress(NetworkError):
            await self.handle(method, call)

    def _reject(self, method: str, problem: str) -> BotAPIError:
        self.violations.append(f"{method}: {problem}")
        return BotAPIError(400, f"Bad Request: {problem}")

    def _check_text(self, method: str, text: Any, limit: int, parse_mode: Any) -> None:
        if not isinstance(text, str) or not text.strip():
            raise self._reject(method, "message text is empty")
        length = len(text)
        if parse_mode == "HTML":
            problems, length = html_problems(text)
            if problems:
                raise self._reject(method, f"can't parse entities: {problems[0]}")
        if length > limit:
            raise self._reject(method, f"text is too long ({length} > {limit})")

    def _check_markup(self, method: str, markup: Any) -> None:
        if markup is None:
            return
        if isinstance(markup, str):
            markup = json.loads(markup)
        for row in markup.get("inline_keyboard", []):
            for button in row:
                label = button.get("text", "")
                if not label or len(label) > BUTTON_LABEL_MAX:
                    raise self._reject(method, f"bad button label {label!r}")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_MAX:
                    raise self._reject(method, "BUTTON_DATA_INVALID")

    def _message(self, chat_id: int, message_id: int, text: str, markup: Any) -> dict[str, Any]:
        if isinstance(markup, str):
            markup = json.loads(markup)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "User"},
            "from": BOT_USER,
            "text": text,
        }
        # A message Telegram returns carries its inline keyboard, never a ForceReply.
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    async def _dispatch(
        self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("deleteWebhook", "setMyCommands", "setWebhook", "close", "logOut"):
            if method == "setMyCommands":
                for command in params.get("commands", []):
                    command = json.loads(command) if isinstance(command, str) else command
                    description = command.get("description", "")
                    if not COMMAND_NAME.fullmatch(command.get("command", "")):
                        raise self._reject(method, "BOT_COMMAND_INVALID")
                    if not 1 <= len(description) <= 256:
                        raise self._reject(method, "command description length")
            if method == "setWebhook":
                self.webhook = params.get("url")
            if method == "deleteWebhook":
                self.webhook = None
            return True
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            self._check_text(method, params.get("text"), TEXT_MAX, params.get("parse_mode"))
            self._check_markup(method, params.get("reply_markup"))
            message_id = next(self._ids)
            return self._keep(
                self._message(chat_id, message_id, params["text"], params.get("reply_markup"))
            )
        if method == "editMessageText":
            chat_id = int(params["chat_id"])
            message_id = int(params["message_id"])
            self._check_text(method, params.get("text"), TEXT_MAX, params.get("parse_mode"))
            self._check_markup(method, params.get("reply_markup"))
            old = self.messages.get((chat_id, message_id))
            if old is None:
                raise BotAPIError(400, "Bad Request: message to edit not found")
            if "text" not in old:
                raise BotAPIError(400, "Bad Request: there is no text in the message to edit")
            new = self._message(chat_id, message_id, params["text"], params.get("reply_markup"))
            if old["text"] == new["text"] and old.get("reply_markup") == new.get("reply_markup"):
                raise BotAPIError(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            return self._keep(new)
        if method == "answerCallbackQuery":
            text = params.get("text")
            if text is not None and len(text) > CALLBACK_ANSWER_MAX:
                raise self._reject(method, "callback answer too long")
            self._answer_query(params)
            return True
        if method in ("sendPhoto", "sendDocument"):
            caption = params.get("caption")
            if caption is not None:
                self._check_text(method, caption, CAPTION_MAX, params.get("parse_mode"))
            self._check_markup(method, params.get("reply_markup"))
            field_name = "photo" if method == "sendPhoto" else "document"
            # A new file is a multipart part named after the field, or referenced by attach://.
            attached = str(params.get(field_name, f"attach://{field_name}"))
            attached = attached.removeprefix("attach://")
            if attached not in files:
                raise self._reject(method, f"{field_name} is not an uploaded file")
            filename, content = files[attached]
            limit = PHOTO_MAX if method == "sendPhoto" else DOCUMENT_MAX
            if not 0 < len(content) <= limit:
                raise self._reject(method, f"{field_name} of {len(content)} bytes")
            chat_id = int(params["chat_id"])
            self.uploads.append(Upload(chat_id, method, filename, content, caption))
            message_id = next(self._ids)
            message = self._message(chat_id, message_id, "", params.get("reply_markup"))
            del message["text"]
            message["caption"] = caption or ""
            return self._keep(message)
        raise self._reject(method, f"method {method} not known to the double")


def _call_key(method: str, params: dict[str, Any]) -> str:
    return json.dumps([method, params], sort_keys=True, default=str)


class FakeRequest(BaseRequest):
    """python-telegram-bot's request layer, answered by a ``FakeBotAPI`` (no network).

    ``fault(method)`` may fail a call as a network or a proxy would (see ``Faults``).
    """

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.fault: Callable[[str], Any] | None = None

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        files: dict[str, tuple[str, bytes]] = {}
        if request_data is not None and request_data.contains_files:
            for name, (filename, content, _mime) in request_data.multipart_data.items():
                files[name] = (filename, content if isinstance(content, bytes) else content.read())
        fate = self.fault(endpoint) if self.fault is not None else None
        if fate is REFUSED:
            refused = httpx.ConnectError("[Errno 111] Connection refused")
            raise NetworkError(f"httpx.ConnectError: {refused}") from refused
        if fate is DROP or fate is BAD_GATEWAY or isinstance(fate, BotAPIError):
            self.api.note(endpoint, params)
        if fate is DROP:
            raise NetworkError("httpx.RemoteProtocolError: Server disconnected")
        if fate is BAD_GATEWAY:
            return 502, NGINX_502
        if isinstance(fate, BotAPIError):
            return fate.code, json.dumps(fate.body()).encode()
        status, body = await self.api.handle(endpoint, params, files)
        if fate is AFTER:
            self.api.lost(endpoint, params)
            raise NetworkError("httpx.RemoteProtocolError: Server disconnected")
        return status, json.dumps(body).encode()


# Real Update JSON, as Telegram sends it

_update_ids = itertools.count(10_000)


def user(user_id: int, language: str | None = "en") -> dict[str, Any]:
    """A Telegram user object."""
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
    if language:
        data["language_code"] = language
    return data


def message_update(
    user_id: int,
    text: str | None = None,
    *,
    language: str | None = "en",
    extra: dict[str, Any] | None = None,
    kind: str = "message",
    update_id: int | None = None,
) -> dict[str, Any]:
    """An update with a private message (text, a command, or ``extra`` such as a sticker)."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": f"User {user_id}"},
        "from": user(user_id, language),
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if kind == "edited_message":
        message["edit_date"] = int(time.time())
    message.update(extra or {})
    return {"update_id": update_id or next(_update_ids), kind: message}


def callback_update(
    user_id: int,
    data: str,
    bot_message: dict[str, Any],
    *,
    language: str | None = "en",
    update_id: int | None = None,
) -> dict[str, Any]:
    """An update with a press of an inline button on ``bot_message``."""
    return {
        "update_id": update_id or next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": user(user_id, language),
            "chat_instance": str(user_id),
            "data": data,
            "message": bot_message,
        },
    }


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, callback data)`` of every inline button of a bot message."""
    markup = message.get("reply_markup") or {}
    return [
        (button["text"], button["callback_data"])
        for row in markup.get("inline_keyboard", [])
        for button in row
    ]


def _decode(value: str) -> Any:
    if value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_DISPOSITION_PARAM = re.compile(r'\b(name|filename)="([^"]*)"')


def _multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Split a multipart/form-data body into its fields and its files.

    Split on the boundary by hand: the email parser took milliseconds per photo, which in a
    load run delayed every other reply the double was serving meanwhile.
    """
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise ValueError(f"no boundary in {content_type!r}")
    delimiter = b"--" + found.group(1).encode()
    params: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    # The preamble before the first delimiter and the "--" epilogue after the last are no parts.
    for part in body.split(delimiter)[1:-1]:
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        disposition = next(
            line.decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-disposition:")
        )
        names = dict(_DISPOSITION_PARAM.findall(disposition))
        if "filename" in names:
            files[names["name"]] = (names["filename"], content)
        else:
            params[names["name"]] = _decode(content.decode())
    return params, files


class LoopbackTelegram:
    """The double served over HTTP/1.1 with keep-alive on 127.0.0.1, like a Bot API server.

    Small and quick, so that in a load run the bot, not the double, is what is measured; it
    can also fail calls the ways a network and a server do (see ``fault``).
    """

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.fault: Callable[[str], Any] | None = None
        """``fault(method)``: ``DROP`` closes the connection before the call is applied,
        ``AFTER`` applies it and then closes the connection (the answer is lost),
        ``BAD_GATEWAY`` answers nginx's 502 page, a ``BotAPIError`` is answered instead of the
        call, ``None`` lets it through (see ``Faults``)."""
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening and close the connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                _verb, target, _version = request_line.split(" ", 2)
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines if line)
                }
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                answered = await self._answer(target, headers.get("content-type", ""), body)
                if answered is None:
                    return
                status, payload = answered
                kind = b"text/html" if payload.startswith(b"<html>") else b"application/json"
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                    b"Content-Length: %d\r\n\r\n%s"
                    % (status, b"OK" if status == 200 else b"Error", kind, len(payload), payload)
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # A long poll still open when the run ends: the task is the connection's own.
            return
        finally:
            writer.close()

    async def _answer(
        self, target: str, content_type: str, body: bytes
    ) -> tuple[int, bytes] | None:
        _, _, rest = target.partition("/bot")
        token, _, method = rest.partition("/")
        if token != self.api.token:
            return 401, b'{"ok": false, "error_code": 401, "description": "Unauthorized"}'
        fate = self.fault(method) if self.fault is not None else None
        files: dict[str, tuple[str, bytes]] = {}
        if content_type.startswith("application/json"):
            params = json.loads(body or b"{}")
        elif content_type.startswith("multipart/form-data"):
            params, files = _multipart(content_type, body)
        else:
            params = {key: _decode(value) for key, value in parse_qsl(body.decode())}
        if fate is DROP or fate is REFUSED or fate is BAD_GATEWAY or isinstance(fate, BotAPIError):
            self.api.note(method, params)
        if fate is DROP or fate is REFUSED:  # a loopback connection is made before the fault
            return None
        if fate is BAD_GATEWAY:
            return 502, NGINX_502
        if isinstance(fate, BotAPIError):
            return fate.code, json.dumps(fate.body()).encode()
        status, answer = await self.api.handle(method, params, files)
        if fate is AFTER:
            self.api.lost(method, params)
            return None
        return status, json.dumps(answer).encode()

"""OpenAI's chat completions wire format, as whyrec reads and answers it: the request's models and the error shape.

The fields whyrec reads are typed (:class:`ChatCompletionRequest`); others are accepted and ignored. Errors go back
as OpenAI's ``{"error": {"message", "type", "param", "code"}}`` with an HTTP status (:class:`OpenAIError`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from whyrec.ui.request_limits import LimitExceeded


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts carry anything whyrec reads."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The fields whyrec reads; others (temperature, max_tokens, tools…) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None


class OpenAIError(Exception):
    """An error answered as OpenAI's error JSON with an HTTP status."""

    TYPES: ClassVar[dict[int, str]] = {
        400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error", 404: "invalid_request_error", 429: "requests"
    }

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.retry_after = status, message, param, code, retry_after

    @classmethod
    def of_limit(cls, err: LimitExceeded) -> OpenAIError:
        return cls(err.status, str(err), param="messages" if err.status == 400 else None, code=err.code, retry_after=err.retry_after)

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.TYPES.get(self.status, "server_error"), "param": self.param, "code": self.code}}
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def validation_error(err: ValidationError) -> OpenAIError:
    first = err.errors()[0]
    param = ".".join(str(p) for p in first.get("loc", ())) or None
    return OpenAIError(400, f"{param or 'request'}: {first.get('msg', 'invalid')} — see the OpenAI chat completions format", param=param, code="invalid_request")

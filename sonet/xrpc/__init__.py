"""XRPC: the HTTP API layer of AT Protocol (https://atproto.com/specs/xrpc)."""

from sonet.xrpc.auth import (
    AccessCredentials,
    AdminCredentials,
    AuthScheme,
    AuthVerifiers,
    RefreshCredentials,
    ServiceCredentials,
)
from sonet.xrpc.body import RawBody
from sonet.xrpc.client import XrpcClient, XrpcResponse
from sonet.xrpc.context import (
    AuthVerifier,
    Handler,
    HandlerContext,
    HandlerOutput,
    XrpcBody,
    XrpcInput,
    XrpcStream,
)
from sonet.xrpc.cors import setup_cors
from sonet.xrpc.errors import (
    AuthRequiredError,
    ForbiddenError,
    InternalServerError,
    InvalidRequestError,
    MethodNotImplementedError,
    NotAcceptableError,
    NotEnoughResourcesError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitExceededError,
    UnsupportedMediaTypeError,
    UpstreamFailureError,
    UpstreamTimeoutError,
    XRPCError,
)
from sonet.xrpc.frames import ErrorFrame, FrameError, MessageFrame, decode_frame
from sonet.xrpc.ratelimit import LimitStatus, RateLimit, RateLimitBackend, RateLimiter
from sonet.xrpc.ratelimit_memory import MemoryRateLimitBackend
from sonet.xrpc.ratelimit_redis import RedisRateLimitBackend
from sonet.xrpc.router import XrpcRouter
from sonet.xrpc.service_jwt import ServiceJwtPayload, create_service_jwt, verify_service_jwt
from sonet.xrpc.tokens import AuthScope, SessionToken, SessionTokens

__all__ = [
    "AccessCredentials",
    "AdminCredentials",
    "AuthRequiredError",
    "AuthScheme",
    "AuthScope",
    "AuthVerifier",
    "AuthVerifiers",
    "ErrorFrame",
    "ForbiddenError",
    "FrameError",
    "Handler",
    "HandlerContext",
    "HandlerOutput",
    "InternalServerError",
    "InvalidRequestError",
    "LimitStatus",
    "MemoryRateLimitBackend",
    "MessageFrame",
    "MethodNotImplementedError",
    "NotAcceptableError",
    "NotEnoughResourcesError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimit",
    "RateLimitBackend",
    "RateLimitExceededError",
    "RateLimiter",
    "RawBody",
    "RedisRateLimitBackend",
    "RefreshCredentials",
    "ServiceCredentials",
    "ServiceJwtPayload",
    "SessionToken",
    "SessionTokens",
    "UnsupportedMediaTypeError",
    "UpstreamFailureError",
    "UpstreamTimeoutError",
    "XRPCError",
    "XrpcBody",
    "XrpcClient",
    "XrpcInput",
    "XrpcResponse",
    "XrpcRouter",
    "XrpcStream",
    "create_service_jwt",
    "decode_frame",
    "setup_cors",
    "verify_service_jwt",
]

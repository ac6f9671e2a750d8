//! The one error type, free of HTTP: a [`Code`] (the stable machine-readable `code`, which also
//! gives the [`Kind`] of failure), a human message and optional details. Each API dialect maps
//! kinds and codes to its own status and shape in one place under `src/http/`.

use std::borrow::Cow;
use std::panic::Location;

use serde_json::Value;

/// What went wrong, in terms of the operation rather than of a protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The request itself cannot be read: syntax, encoding, size, media type, method.
    Malformed,
    /// A readable request with a value that fails validation (usually naming the field).
    InvalidInput,
    NotFound,
    /// The resource's state forbids it: taken, gone, or not of the right sort.
    Conflict,
    /// The operation does not apply to the resource as it is (already scheduled, not billed).
    Refused,
    Unauthorized,
    /// Something the service depends on cannot be reached now; the same request may work later.
    Unavailable,
    /// The telephony carrier failed; nothing changed.
    CarrierFailure,
    /// A defect or an unexpected failure: logged where it was raised, opaque to the client.
    Internal,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal, $kind:ident;)+) => {
        /// Every stable error code, with its wire string and kind.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code {
            $($(#[$doc])* $variant,)+
        }

        impl Code {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $wire,)+
                }
            }

            pub fn kind(self) -> Kind {
                match self {
                    $(Code::$variant => Kind::$kind,)+
                }
            }
        }
    };
}

codes! {
    MalformedJson = "malformed_json", Malformed;
    /// A body shorter than its declared length.
    IncompleteBody = "incomplete_body", Malformed;
    /// A body that could not be read at all.
    UnreadableBody = "invalid_body", Malformed;
    /// A JSON body of the wrong shape (not an object, say).
    InvalidBody = "invalid_body", InvalidInput;
    InvalidType = "invalid_type", InvalidInput;
    MissingField = "missing_field", InvalidInput;
    UnknownField = "unknown_field", InvalidInput;
    InvalidEnumValue = "invalid_enum_value", InvalidInput;
    InvalidField = "invalid_field", InvalidInput;
    TestClockCannotGoBack = "test_clock_cannot_go_back", InvalidInput;
    PayloadTooLarge = "payload_too_large", Malformed;
    UnsupportedMediaType = "unsupported_media_type", Malformed;
    MethodNotAllowed = "method_not_allowed", Malformed;
    InvalidPathParameter = "invalid_path_parameter", Malformed;
    InvalidQueryParameter = "invalid_query_parameter", Malformed;
    InvalidPageToken = "invalid_page_token", Malformed;
    MissingAccessKey = "missing_access_key", Unauthorized;
    MalformedAuthorization = "malformed_authorization", Unauthorized;
    MalformedAccessKey = "malformed_access_key", Unauthorized;
    InvalidAccessKey = "invalid_access_key", Unauthorized;
    AccessKeyRevoked = "access_key_revoked", Unauthorized;
    RouteNotFound = "route_not_found", NotFound;
    WorkspaceNotFound = "workspace_not_found", NotFound;
    NumberNotFound = "number_not_found", NotFound;
    SubscriptionNotFound = "subscription_not_found", NotFound;
    AssistantNotFound = "assistant_not_found", NotFound;
    CampaignNotFound = "campaign_not_found", NotFound;
    CallerIdNotFound = "caller_id_not_found", NotFound;
    WebhookNotFound = "webhook_not_found", NotFound;
    DeliveryNotFound = "delivery_not_found", NotFound;
    NumberAlreadyExists = "number_already_exists", Conflict;
    NumberAlreadyAssigned = "number_already_assigned", Conflict;
    NumberAlreadyReleased = "number_already_released", Conflict;
    SubscriptionAlreadyEnded = "subscription_already_ended", Conflict;
    WorkspaceNotInTestMode = "workspace_not_in_test_mode", Conflict;
    /// A caller-ID verification of the same number is already under way in the workspace.
    VerificationAlreadyPending = "verification_already_pending", Conflict;
    /// A code for a verification that has expired or failed.
    VerificationNotPending = "verification_not_pending", Conflict;
    /// A manual retry of a delivery that is still queued or retrying.
    DeliveryInProgress = "delivery_in_progress", Conflict;
    WebhookDisabled = "webhook_disabled", Conflict;
    ReleaseAlreadyScheduled = "release_already_scheduled", Refused;
    NumberHasNoSubscription = "number_has_no_subscription", Refused;
    /// The carrier verifies by phone call (Twilio): the owner types the code in on the call.
    VerificationByCall = "verification_by_call", Refused;
    DatabaseUnavailable = "database_unavailable", Unavailable;
    CarrierReleaseFailed = "carrier_release_failed", CarrierFailure;
    /// The carrier failed or timed out inside a request; nothing changed.
    CarrierUnavailable = "carrier_unavailable", CarrierFailure;
    /// Adopting a number the carrier account does not hold.
    NumberNotAtCarrier = "number_not_at_carrier", InvalidInput;
    /// An `Idempotency-Key` already used within 24 hours for a different request.
    IdempotencyKeyReused = "idempotency_key_reused", InvalidInput;
    OrderNotFound = "order_not_found", NotFound;
    /// The Autocalls purchase could not buy the number (taken, refused by the carrier).
    NumberUnavailable = "number_unavailable", Refused;
    /// The carrier did not accept the verification code.
    InvalidVerificationCode = "invalid_verification_code", InvalidInput;
    InternalError = "internal_error", Internal;
}

#[derive(Debug)]
pub struct Error {
    pub code: Code,
    pub message: Cow<'static, str>,
    pub details: Option<Value>,
    /// Where an internal error was raised (already logged there).
    pub location: Option<&'static Location<'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Error { code, message: message.into(), details: None, location: None }
    }

    pub fn kind(&self) -> Kind {
        self.code.kind()
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// A request field that failed validation, naming the field.
    pub fn invalid_field(field: &str, message: impl Into<Cow<'static, str>>) -> Self {
        let message = message.into();
        Self::new(Code::InvalidField, format!("`{field}` {message}")).with_details(serde_json::json!({ "field": field, "reason": message }))
    }

    /// An unexpected failure: logged once, here, with its context and the caller's location;
    /// clients see an opaque `internal_error`.
    #[track_caller]
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        let at = Location::caller();
        tracing::error!(error = %err, location = %at, "{context}");
        Error { location: Some(at), ..Self::new(Code::InternalError, "An internal error occurred.") }
    }

    /// The database cannot serve now (see [`crate::store::unavailability`]): 503, which the HTTP
    /// layer answers with `Retry-After`. The cause is logged here, once.
    pub fn database_unavailable(reason: &'static str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "database unavailable: {reason}");
        Self::new(Code::DatabaseUnavailable, "The database is unavailable; retry later.")
    }

    pub fn number_not_found() -> Self {
        Self::new(Code::NumberNotFound, "Phone number not found.")
    }
}

impl From<sqlx::Error> for Error {
    #[track_caller]
    fn from(err: sqlx::Error) -> Self {
        match crate::store::unavailability(&err) {
            Some(reason) => Error::database_unavailable(reason, err),
            None => Error::internal("database error", err),
        }
    }
}

impl From<anyhow::Error> for Error {
    #[track_caller]
    fn from(err: anyhow::Error) -> Self {
        Error::internal("unexpected error", format!("{err:#}"))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

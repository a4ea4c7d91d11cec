//! Errors as the HTTP contract gives them: a status and
//! `{"error": {"code", "message", "field"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_order`.
    pub code: String,
    pub message: String,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The body of every error answer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// When a ruleset is refused: the checker's diagnostics, as `allot check --format json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub diagnostics: Option<Vec<allot_diagnostics::JsonDiagnostic>>,
    /// When a ruleset is refused: the golden scenarios that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<String>>,
}

#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Boxed: errors travel in every `Result` of the handlers, kept small.
    pub body: Box<ErrorBody>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: ErrorDetail {
                    code: code.to_string(),
                    message: message.into(),
                    field: None,
                },
                diagnostics: None,
                failures: None,
            }),
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.body.error.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// The database failed: nothing was written, and the client may try again.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(*self.body)).into_response()
    }
}

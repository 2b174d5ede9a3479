//! `GET /api/admin/users/{name}/subscription-qr`: the user's subscription link as a QR code.
//!
//! The dashboard shows it as an `<img>` from this origin, which the strict CSP allows. The
//! `qrcode` crate draws the SVG, which contains only shapes (no script, no text).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use qrcode::QrCode;
use qrcode::render::svg;
use spiritus_app::{Actor, AppError};

use crate::error::ApiResult;
use crate::extract::{Authenticated, Ctx};
use crate::state::ServerState;

/// Side of the code in pixels before the browser scales it.
const QR_SIZE: u32 = 256;

pub async fn subscription_qr(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let user = state
        .app
        .get_user(&Actor::account(&principal, &context), &name)
        .await?;
    let link = state.app.subscription_url(&user)?;
    let image = qr_svg(&link)?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        image,
    )
        .into_response())
}

fn qr_svg(text: &str) -> Result<String, AppError> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|error| AppError::Internal(format!("cannot draw the QR code: {error}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(QR_SIZE, QR_SIZE)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_a_plain_svg() {
        let image = qr_svg("https://127.0.0.1:8443/sub/abc").unwrap();
        assert!(image.contains("<svg"));
        assert!(!image.contains("<script"));
    }
}

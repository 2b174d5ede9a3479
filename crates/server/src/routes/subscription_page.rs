//! The subscription page for people who open their link in a browser: usage, expiry, a QR
//! code of the subscription link and of every config, and the links as text to copy.
//!
//! It works under the strict Content-Security-Policy: no script, no inline style (the look
//! comes from the stylesheet the binary serves), and QR codes as inline SVG drawn with
//! presentation attributes only. Every text is HTML-escaped.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use qrcode::QrCode;
use qrcode::render::svg;
use spiritus_app::services::subscriptions::SubscriptionView;
use spiritus_core::user::UserStatus;

use super::subscription::PAGE_STYLESHEET_PATH;

/// Side of a QR code in pixels, before the browser scales it.
const QR_SIZE: u32 = 240;

/// Renders the page for `view`; `link` is the subscription URL itself.
pub fn render(view: &SubscriptionView, link: &str) -> String {
    let name = escape(&view.name);
    let mut page = String::with_capacity(16 * 1024);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{name} · subscription</title>\
         <link rel=\"stylesheet\" href=\"{PAGE_STYLESHEET_PATH}\"></head>\
         <body><main><h1>{name}</h1>"
    );
    usage(&mut page, view);
    entry(
        &mut page,
        "Subscription link",
        "Add this link to your client app, or scan it.",
        link,
    );
    if view.profiles.is_empty() {
        let _ = write!(
            page,
            "<p class=\"notice\">{}</p>",
            escape(inactive_reason(view.status))
        );
    } else {
        page.push_str("<h2>Configs</h2>");
        for profile in &view.profiles {
            entry(&mut page, &profile.remark, "", &profile.to_link());
        }
    }
    page.push_str("</main></body></html>\n");
    page
}

fn usage(page: &mut String, view: &SubscriptionView) {
    let used = view.upload_bytes.saturating_add(view.download_bytes);
    let quota = if view.total_bytes == 0 {
        "unlimited".to_owned()
    } else {
        human_bytes(view.total_bytes)
    };
    let _ = write!(
        page,
        "<dl class=\"usage\">\
         <dt>Status</dt><dd class=\"status-{status}\">{status}</dd>\
         <dt>Used</dt><dd>{used} (up {up}, down {down})</dd>\
         <dt>Quota</dt><dd>{quota}</dd>\
         <dt>Expires</dt><dd>{expires}</dd></dl>",
        status = view.status.as_str(),
        used = human_bytes(used),
        up = human_bytes(view.upload_bytes),
        down = human_bytes(view.download_bytes),
        quota = escape(&quota),
        expires = escape(&expiry(view.expire_at)),
    );
}

fn entry(page: &mut String, title: &str, hint: &str, text: &str) {
    let _ = write!(page, "<section class=\"entry\"><h3>{}</h3>", escape(title));
    if !hint.is_empty() {
        let _ = write!(page, "<p>{}</p>", escape(hint));
    }
    if let Some(code) = qr_svg(text) {
        let _ = write!(page, "<div class=\"qr\">{code}</div>");
    }
    let _ = write!(
        page,
        "<textarea readonly rows=\"3\" spellcheck=\"false\">{}</textarea></section>",
        escape(text)
    );
}

/// Draws the QR code as an inline SVG element; `None` when the text is too long for one.
fn qr_svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(QR_SIZE, QR_SIZE)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let start = image.find("<svg")?;
    Some(image[start..].replacen("<svg", "<svg role=\"img\" aria-label=\"QR code\"", 1))
}

fn inactive_reason(status: UserStatus) -> &'static str {
    match status {
        UserStatus::Active => "No configs are offered at the moment.",
        UserStatus::Disabled => "This subscription is switched off, so no configs are offered.",
        UserStatus::Limited => {
            "The traffic quota of this subscription is used up, so no configs are offered."
        }
        UserStatus::Expired => "This subscription has expired, so no configs are offered.",
    }
}

fn expiry(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Bytes in decimal units with two decimals, as quotas are written.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TB", 1_000_000_000_000),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("kB", 1_000),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            let whole = bytes / size;
            let hundredths = (bytes % size) / (size / 100);
            return format!("{whole}.{hundredths:02} {unit}");
        }
    }
    format!("{bytes} B")
}

/// Escapes text for HTML element content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(status: UserStatus) -> SubscriptionView {
        SubscriptionView {
            name: "alice".into(),
            status,
            upload_bytes: 1_500,
            download_bytes: 2_345_678,
            total_bytes: 0,
            expire_at: DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            profiles: Vec::new(),
            update_interval_hours: 12,
        }
    }

    #[test]
    fn page_has_no_inline_script_or_style() {
        let page = render(&view(UserStatus::Active), "https://x/sub/a<b>&\"c");

        assert!(!page.contains("<script"));
        assert!(!page.contains("style="));
        assert!(!page.contains("<style"));
        assert!(page.contains("<svg role=\"img\""));
        assert!(page.contains("a&lt;b&gt;&amp;&quot;c"));
        assert!(!page.contains("<?xml"));
    }

    #[test]
    fn inactive_page_says_why() {
        let page = render(&view(UserStatus::Limited), "https://x/sub/t");

        assert!(page.contains("quota of this subscription is used up"));
        assert!(!page.contains("<h2>Configs</h2>"));
    }

    #[test]
    fn bytes_read_in_decimal_units() {
        let cases = [
            (0, "0 B"),
            (999, "999 B"),
            (1_500, "1.50 kB"),
            (2_345_678, "2.34 MB"),
            (10_000_000_000, "10.00 GB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(human_bytes(bytes), text, "{bytes}");
        }
    }
}

//! The link e-mail (SPEC §15): plain text and HTML saying who asks, for which organisation,
//! the note, the expiry in UTC, whom to ask, and that the link works once and must not be
//! forwarded. No tracking pixel, no remote image, no link but the one: the brand's logo, when
//! one is configured, travels inside the message (`cid:`).

use crate::clock::{from_millis, human_time};
use crate::domain::contact::Contact;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use maud::{html, Markup, PreEscaped};

/// What one message says.
pub struct LinkMail<'a> {
    /// The outbox row's id: the message's `Message-ID`, the same on every attempt.
    pub mail_id: &'a str,
    pub from: &'a Mailbox,
    pub to: &'a str,
    pub brand: &'a str,
    pub org: &'a str,
    pub note: Option<&'a str>,
    /// The link itself (it holds the token: never logged).
    pub url: &'a str,
    pub expires_at: i64,
    pub contact: Option<&'a Contact>,
    /// `KEYDROP_SUPPORT_EMAIL`, when the drop names no contact.
    pub support: Option<&'a str>,
    /// Which message of the drop this is.
    pub why: Why,
    /// The drop's kind connects (Connect with Greenhouse) rather than takes a pasted key.
    pub connect: bool,
    /// The brand's logo: its bytes and content type.
    pub logo: Option<(&'a [u8], &'a str)>,
    /// When it is sent (the `Date` header).
    pub now_ms: i64,
}

impl std::fmt::Debug for LinkMail<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkMail")
            .field("mail_id", &self.mail_id)
            .finish_non_exhaustive()
    }
}

/// Which message of a drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The drop's first link.
    First,
    /// Staff sent a new link; the earlier one stopped working then.
    Again,
    /// The one reminder, with a new link that replaced the earlier one.
    Reminder,
}

const LOGO_CID: &str = "brand-logo";

impl LinkMail<'_> {
    /// What is asked of the customer, after "to": "hand over a Greenhouse credential" or
    /// "connect Greenhouse".
    fn task(&self) -> &'static str {
        if self.connect {
            "connect Greenhouse"
        } else {
            "hand over a Greenhouse credential"
        }
    }

    fn subject(&self) -> String {
        let what = if self.connect {
            "a Greenhouse connection"
        } else {
            "a Greenhouse credential"
        };
        match self.why {
            Why::First => format!("{} asks for {what} for {}", self.brand, self.org),
            Why::Again => format!("New link: {} asks for {what} for {}", self.brand, self.org),
            Why::Reminder => format!(
                "Reminder: {} is waiting for {what} for {}",
                self.brand, self.org
            ),
        }
    }

    /// The opening sentences.
    fn opening(&self) -> (String, Option<&'static str>) {
        let first = match self.why {
            Why::Reminder => format!(
                "{} is still waiting for you to {} for {}.",
                self.brand,
                self.task(),
                self.org
            ),
            Why::First | Why::Again => format!(
                "{} asks you to {} for {} through this secure link.",
                self.brand,
                self.task(),
                self.org
            ),
        };
        let replaced = match self.why {
            Why::First => None,
            Why::Again => {
                Some("This link replaces any link sent to you before, which no longer works.")
            }
            Why::Reminder => Some("Here is a new link; the one sent before no longer works."),
        };
        (first, replaced)
    }

    /// The host the link leads to, in plain words, so the reader can check it.
    fn host(&self) -> String {
        reqwest::Url::parse(self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn expiry(&self) -> String {
        human_time(from_millis(self.expires_at))
    }

    /// Whom to ask: the drop's contact, else the support address.
    fn ask(&self) -> Option<(String, String)> {
        match (self.contact, self.support) {
            (Some(c), _) => Some((format!("{} <{}>", c.name, c.email), c.email.clone())),
            (None, Some(s)) => Some((s.to_owned(), s.to_owned())),
            (None, None) => None,
        }
    }

    fn text(&self) -> String {
        let mut t = String::new();
        t.push_str("Hello,\n\n");
        let (first, replaced) = self.opening();
        t.push_str(&first);
        if let Some(r) = replaced {
            t.push(' ');
            t.push_str(r);
        }
        t.push_str("\n\n");
        if let Some(note) = self.note {
            t.push_str(&format!("Their note: {note}\n\n"));
        }
        t.push_str(&format!("{}\n\n", self.url));
        t.push_str(&format!(
            "The link leads to {}. It works once and expires on {}. Do not forward it: whoever \
             opens it can {} for {}. {} will never ask you to send a credential by e-mail: do \
             not reply with one.\n\n",
            self.host(),
            self.expiry(),
            self.task(),
            self.org,
            self.brand
        ));
        match self.ask() {
            Some((who, _)) => t.push_str(&format!(
                "Questions, or not expecting this? Ask {who} before you use the link.\n"
            )),
            None => t.push_str(&format!(
                "Not expecting this? Ask {} before you use the link.\n",
                self.brand
            )),
        }
        t.push_str(&format!(
            "\n{} sent this message through keydrop.\n",
            self.brand
        ));
        t
    }

    /// The HTML part (also for looking at it in a browser).
    pub fn html(&self) -> Markup {
        let p = "margin:0 0 16px 0;font:16px/1.5 -apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2328";
        html! {
            (PreEscaped("<!DOCTYPE html>"))
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.subject()) }
                }
                body style="margin:0;padding:24px;background:#f6f8fa" {
                    div style="max-width:560px;margin:0 auto;background:#ffffff;border:1px solid #d0d7de;border-radius:8px;padding:24px" {
                        @if self.logo.is_some() {
                            p style=(p) { img src={ "cid:" (LOGO_CID) } alt=(self.brand) style="max-height:48px;max-width:200px"; }
                        } @else {
                            p style={ (p) ";font-weight:600" } { (self.brand) }
                        }
                        p style=(p) { "Hello," }
                        @let (first, replaced) = self.opening();
                        p style=(p) {
                            (first)
                            @if let Some(r) = replaced { " " strong { (r) } }
                        }
                        @if let Some(note) = self.note {
                            p style={ (p) ";padding:12px;background:#f6f8fa;border-left:3px solid #0969da" } {
                                "Their note: " (note)
                            }
                        }
                        p style=(p) {
                            a href=(self.url) style="display:inline-block;padding:10px 18px;background:#1f6feb;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600" {
                                "Open the secure link"
                            }
                        }
                        p style={ (p) ";font-size:14px;word-break:break-all;color:#57606a" } {
                            "Or copy this address into your browser: " (self.url)
                        }
                        p style=(p) {
                            "The link leads to " strong { (self.host()) } ". It " strong { "works once" } " and expires on "
                            strong { (self.expiry()) } ". "
                            strong { "Do not forward it:" } " whoever opens it can " (self.task()) " for " (self.org) ". "
                            (self.brand) " will never ask you to send a credential by e-mail: do not reply with one."
                        }
                        @match self.ask() {
                            Some((_, email)) => p style=(p) {
                                "Questions, or not expecting this? Ask "
                                @if let Some(c) = self.contact {
                                    (c.name) " (" a href={ "mailto:" (email) } { (email) } ")"
                                } @else {
                                    a href={ "mailto:" (email) } { (email) }
                                }
                                " before you use the link."
                            },
                            None => p style=(p) {
                                "Not expecting this? Ask " (self.brand) " before you use the link."
                            },
                        }
                        p style={ (p) ";font-size:13px;color:#57606a;margin:0" } {
                            (self.brand) " sent this message through keydrop."
                        }
                    }
                }
            }
        }
    }
}

/// The message for `mail`: `multipart/alternative` (text, then HTML), the HTML `related`
/// to the inline logo when there is one; `Reply-To` the contact.
pub fn compose(mail: &LinkMail<'_>) -> Result<Message, String> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|_| "the recipient is not an e-mail address".to_owned())?;
    let domain = mail.from.email.domain().to_owned();
    let mut builder = Message::builder()
        .from(mail.from.clone())
        .to(to)
        .subject(mail.subject())
        .message_id(Some(format!("<{}@{}>", mail.mail_id, domain)))
        .date(std::time::SystemTime::from(from_millis(mail.now_ms)));
    if let Some((_, email)) = mail.ask() {
        if let Ok(reply) = email.parse::<Mailbox>() {
            builder = builder.reply_to(reply);
        }
    }
    let text = SinglePart::plain(mail.text());
    let html = SinglePart::html(mail.html().into_string());
    let body = match mail.logo {
        None => MultiPart::alternative().singlepart(text).singlepart(html),
        Some((bytes, content_type)) => {
            let ct = ContentType::parse(content_type)
                .map_err(|_| "the brand logo's content type".to_owned())?;
            let logo = Attachment::new_inline(LOGO_CID.to_owned()).body(bytes.to_vec(), ct);
            MultiPart::alternative()
                .singlepart(text)
                .multipart(MultiPart::related().singlepart(html).singlepart(logo))
        }
    };
    builder
        .multipart(body)
        .map_err(|e| format!("the message could not be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail<'a>(from: &'a Mailbox, contact: Option<&'a Contact>) -> LinkMail<'a> {
        LinkMail {
            mail_id: "m1",
            from,
            to: "it@customer.example",
            brand: "Acme Analytics",
            org: "Customer <Inc>",
            note: Some("For the Q3 sync"),
            url: "https://keys.acme.example/d/TOKEN",
            expires_at: 1_796_000_000_000,
            contact,
            support: None,
            why: Why::First,
            connect: false,
            logo: None,
            now_ms: 1_795_000_000_000,
        }
    }

    #[test]
    fn both_bodies_say_who_what_until_when() {
        let from: Mailbox = "Acme <links@acme.example>".parse().unwrap();
        let contact = Contact {
            name: "Dana".into(),
            email: "dana@acme.example".into(),
        };
        let m = mail(&from, Some(&contact));
        let text = m.text();
        let html = m.html().into_string();
        for body in [&text, &html] {
            assert!(body.contains("Acme Analytics"), "{body}");
            assert!(body.contains("For the Q3 sync"));
            assert!(body.contains("https://keys.acme.example/d/TOKEN"));
            assert!(body.contains("UTC"));
            assert!(body.contains("Do not forward it"));
            assert!(body
                .replace("<strong>", "")
                .contains("The link leads to keys.acme.example"));
            assert!(body.contains("never ask you to send a credential by e-mail"));
            assert!(body.contains("dana@acme.example"));
        }
        assert!(html.contains("Customer &lt;Inc&gt;"), "escaped");
        assert!(!html.contains("http://") && html.matches("https://").count() == 2);
        assert!(!html.contains("<img"), "no image without a logo");
        let raw = String::from_utf8(compose(&m).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <m1@acme.example>"));
        assert!(raw.contains("Reply-To: dana@acme.example"));
        assert!(raw.contains("multipart/alternative"));
    }

    #[test]
    fn the_logo_travels_inside() {
        let from: Mailbox = "links@acme.example".parse().unwrap();
        let mut m = mail(&from, None);
        let png = [0x89, b'P', b'N', b'G'];
        m.logo = Some((&png, "image/png"));
        m.why = Why::Reminder;
        let raw = String::from_utf8(compose(&m).unwrap().formatted()).unwrap();
        assert!(raw.contains("multipart/related"));
        assert!(raw.contains("Content-ID: <brand-logo>"));
        assert!(raw.contains("cid:brand-logo"));
        assert!(raw.contains("Reminder"));
    }
}

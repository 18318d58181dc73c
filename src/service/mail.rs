//! Links by e-mail (SPEC §15, §8.14), one function per use case:
//!
//! | use case | function |
//! |---|---|
//! | queue a new drop's link (inside `drops::create`/`relink`) | [`new_mail`] |
//! | staff send a drop's link again (a new link; the old one answers 410) | [`send_again`] |
//! | the one reminder before expiry, with a new link | [`Services::remind_due`] |
//! | hand queued messages to the mail server, with retries for 24 h | [`Services::send_mail_due`] |
//!
//! A message row is written in the same transaction as the link it carries, which is sealed
//! under the keyring, bound to the row, until the mail server took the message and destroyed
//! then (or when the row is cancelled or given up): the database otherwise holds only the
//! link token's hash. The text is composed at sending and never stored.

use super::{ServiceError, Services};
use crate::crypto::cipher::{open_link, reseal_link, seal_link, MailBinding, SealedSecret};
use crate::crypto::keyring::Keyring;
use crate::crypto::link::LinkToken;
use crate::crypto::random;
use crate::domain::drop::DropRecord;
use crate::domain::event::{Event, Origin};
use crate::mail::{compose, LinkMail, SendError};
use crate::store::{ClaimedMail, NewMail, Purpose, Rotated, Store};

/// Why `send_to` is refused without a mail server.
pub const NO_MAIL: &str =
    "keydrop sends no e-mail here (KEYDROP_SMTP_URL is not set): leave send_to out and hand \
     the link over yourself";

/// How long a message is retried before it is given up.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3600 * 1000;
/// How long a sender holds a message it is sending (the send's own timeout is 35 s): a
/// process killed mid-send leaves it to another after this.
const LEASE_MS: i64 = 2 * 60 * 1000;

/// The wait before attempt `attempts + 1`: 10 s, 30 s, 1, 2, 5, 10, 30 min, then hourly.
pub fn backoff_ms(attempts: i64) -> i64 {
    const STEPS_S: [i64; 7] = [10, 30, 60, 120, 300, 600, 1800];
    let i = usize::try_from(attempts.max(1) - 1).unwrap_or(usize::MAX);
    STEPS_S.get(i).copied().unwrap_or(3600) * 1000
}

/// The outbox row for `link` of drop `drop_id`, the link sealed for it (and, for a reminder,
/// its hash, which becomes the drop's link once the reminder is sent).
pub fn new_mail(
    keyring: &Keyring,
    drop_id: &str,
    link: &LinkToken,
    to: &str,
    purpose: Purpose,
    actor: &str,
    now: i64,
) -> Result<NewMail, ServiceError> {
    let id = format!("mail_{}", random::uuid()?.simple());
    let binding = MailBinding {
        mail_id: &id,
        drop_id,
        recipient: to,
    };
    let sealed = seal_link(keyring, binding, link.reveal().as_bytes())?;
    Ok(NewMail {
        drop_id: drop_id.to_owned(),
        purpose,
        recipient: to.to_owned(),
        key_version: sealed.key_version,
        sealed_link: sealed.sealed,
        new_token_hash: (purpose == Purpose::Reminder).then(|| link.hash()),
        give_up_at: now.saturating_add(GIVE_UP_AFTER_MS),
        created_by: actor.to_owned(),
        id,
    })
}

/// For a door outside the service (the CLI): `keyring` when the service on this database
/// e-mails links (it records so at start), else `None` — a message queued where nothing
/// sends it would only wait for 24 h and give up.
pub async fn recorded_mail<'a>(
    store: &Store,
    keyring: &'a Keyring,
) -> Result<Option<&'a Keyring>, ServiceError> {
    let sends = store
        .recorded_setting(crate::store::instance::SENDS_MAIL)
        .await?;
    Ok((sends.as_deref() == Some("true")).then_some(keyring))
}

/// Why the CLI refuses `--send-to`.
pub const NO_RECORDED_MAIL: &str =
    "the keydrop service on this database sends no e-mail (start it with KEYDROP_SMTP_URL and      KEYDROP_SMTP_FROM), so --send-to cannot be honoured: leave it out and hand the link over      yourself";

/// What sending again found.
#[derive(Debug)]
pub enum SentAgain {
    /// A new link is queued for the recipient; the drop as it is now.
    Queued(DropRecord),
    /// The drop is not open (or past its expiry): nothing changed (409).
    NotOpen(DropRecord),
    /// No `send_to` given and the drop was never e-mailed (422).
    NoRecipient,
    NotFound,
}

/// Issue a new link for open drop `id` and e-mail it to `to`, or to where its link went
/// before (SPEC §15). The previous link answers 410 "a newer link was sent to you" from the
/// moment this commits; a message still queued with it is cancelled. `to` must be checked.
pub async fn send_again(
    store: &Store,
    keyring: &Keyring,
    id: &str,
    to: Option<String>,
    origin: &Origin,
) -> Result<SentAgain, ServiceError> {
    let Some(drop) = store.drop_by_id(id).await? else {
        return Ok(SentAgain::NotFound);
    };
    if !drop.accepts_input(store.now_ms()) {
        return Ok(SentAgain::NotOpen(drop));
    }
    let Some(to) = to.or_else(|| drop.send_to.clone()) else {
        return Ok(SentAgain::NoRecipient);
    };
    match rotate(store, keyring, &drop, &to, Purpose::Again, origin).await? {
        Rotated::Done => {}
        Rotated::NotOpen => {
            let now = store.drop_by_id(id).await?.unwrap_or(drop);
            return Ok(SentAgain::NotOpen(now));
        }
    }
    let drop = store
        .drop_by_id(id)
        .await?
        .ok_or_else(|| ServiceError::Internal("the drop could not be read back".into()))?;
    Ok(SentAgain::Queued(drop))
}

/// A new link for `drop`, queued to `to`: for staff (`Again`) the old link is replaced at
/// once; for a reminder once the reminder is sent. One audited transaction.
async fn rotate(
    store: &Store,
    keyring: &Keyring,
    drop: &DropRecord,
    to: &str,
    purpose: Purpose,
    origin: &Origin,
) -> Result<Rotated, ServiceError> {
    let link = LinkToken::generate()?;
    let mail = new_mail(
        keyring,
        &drop.id,
        &link,
        to,
        purpose,
        &origin.actor,
        store.now_ms(),
    )?;
    let audit = origin.entry(Event::LinkRenewed {
        drop: drop.id.clone(),
        reason: match purpose {
            Purpose::Link | Purpose::Again => "send",
            Purpose::Reminder => "reminder",
        },
        mail: mail.id.clone(),
    });
    Ok(match purpose {
        Purpose::Reminder => store.queue_reminder(&mail, &audit).await?,
        Purpose::Link | Purpose::Again => store.rotate_link(&link.hash(), &mail, &audit).await?,
    })
}

/// Seal the link of every queued message under the active master key (`keys rewrap`);
/// returns how many. A message sent or withdrawn meanwhile is left as it is; one whose
/// link does not open is left for the sender to give up (named in the error log).
pub async fn reseal_all(store: &Store, keyring: &Keyring) -> Result<usize, ServiceError> {
    let active = keyring.active_version();
    let mut after = String::new();
    let mut n = 0;
    loop {
        let batch = store.mail_to_reseal(active, &after, 200).await?;
        let Some(last) = batch.last() else {
            return Ok(n);
        };
        after = last.id.clone();
        for m in &batch {
            let to = MailBinding {
                mail_id: &m.id,
                drop_id: &m.drop_id,
                recipient: &m.recipient,
            };
            let sealed = SealedSecret {
                key_version: m.key_version,
                sealed: m.sealed_link.clone(),
            };
            match reseal_link(keyring, to, &sealed) {
                Ok(new) => {
                    if store
                        .reseal_mail(&m.id, m.key_version, new.key_version, &new.sealed)
                        .await?
                    {
                        n += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(mail = %m.id, error = %e, "a queued e-mail's link does not open")
                }
            }
        }
    }
}

/// What one sending pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MailPass {
    pub sent: usize,
    /// Failed for now; tried again later.
    pub retried: usize,
    /// Given up (refused for good, or 24 h of failures).
    pub failed: usize,
    /// Withdrawn: their drop no longer takes input.
    pub cancelled: usize,
    pub reminders: usize,
}

impl Services {
    /// The keyring to seal links to e-mail under, when a mail server will send them: what
    /// the doors hand to `drops::create` and `relink`.
    pub fn mail_keyring(&self) -> Option<&Keyring> {
        self.mailer.as_ref().map(|_| &*self.keyring)
    }

    /// Queue the reminder of every e-mailed open drop whose reminder fell due
    /// (`KEYDROP_REMINDER_BEFORE_EXPIRY` before its expiry), each with a new link. Nothing
    /// without a mail server or with reminders `off`. Returns how many were queued.
    pub async fn remind_due(&self, limit: i64) -> Result<usize, ServiceError> {
        let (Some(before), Some(_)) = (self.settings.reminder_before, &self.mailer) else {
            return Ok(0);
        };
        let before_ms = i64::try_from(before.as_millis()).unwrap_or(i64::MAX / 4);
        let mut queued = 0;
        for drop in self.store.reminders_due(before_ms, limit).await? {
            let Some(to) = drop.send_to.clone() else {
                continue;
            };
            let done = rotate(
                &self.store,
                &self.keyring,
                &drop,
                &to,
                Purpose::Reminder,
                &Origin::system(),
            )
            .await?;
            if matches!(done, Rotated::Done) {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Hand due messages to the mail server, one at a time, for at most `budget` (then the
    /// rest wait for the next pass): each leased first (several processes never send one
    /// message at once), sent, then marked sent with its sealed link destroyed and
    /// `drop.link_sent` (`drop.reminded`) audited — or retried with backoff, or given up
    /// after 24 h or a lasting refusal (`drop.link_undelivered`). `beat` is called after
    /// each message (the task's heartbeat: a slow mail server is not a stuck task).
    pub async fn send_mail_due(
        &self,
        limit: i64,
        budget: std::time::Duration,
        beat: &(dyn Fn() + Send + Sync),
    ) -> Result<MailPass, ServiceError> {
        let mut pass = MailPass::default();
        let Some(mailer) = &self.mailer else {
            return Ok(pass);
        };
        let started = std::time::Instant::now();
        for id in self.store.mail_due(limit).await? {
            if started.elapsed() >= budget {
                break;
            }
            let lease = random::uuid()?.simple().to_string();
            let Some(mail) = self.store.claim_mail(&id, &lease, LEASE_MS).await? else {
                continue;
            };
            let now = self.store.now_ms();
            if !mail.drop.accepts_input(now) {
                self.store.cancel_mail(&mail).await?;
                pass.cancelled += 1;
                continue;
            }
            let outcome = match self.compose_mail(mailer, &mail, now) {
                Ok(message) => mailer.send(message).await,
                Err(why) => Err(SendError::Permanent(why)),
            };
            let drop = mail.drop.id.clone();
            match outcome {
                Ok(()) => {
                    let audit = Origin::system().entry(Event::LinkSent {
                        drop: drop.clone(),
                        mail: mail.id.clone(),
                        reminder: mail.purpose == Purpose::Reminder,
                        attempts: mail.attempts,
                    });
                    if !self.store.mail_sent(&mail, &audit).await? {
                        tracing::warn!(mail = %mail.id, drop = %drop, "a link e-mail was sent after its lease ended or it was withdrawn");
                    }
                    tracing::info!(mail = %mail.id, drop = %drop, attempts = mail.attempts, "link e-mailed");
                    self.metrics.record_mail("sent");
                    pass.sent += 1;
                }
                Err(SendError::Transient(why)) if now < mail.give_up_at => {
                    let next = now.saturating_add(backoff_ms(mail.attempts));
                    self.store.mail_retry(&mail, next, &why).await?;
                    tracing::warn!(mail = %mail.id, drop = %drop, attempts = mail.attempts, reason = %why, "link e-mail not sent; will retry");
                    self.metrics.record_mail("retried");
                    pass.retried += 1;
                }
                Err(SendError::Transient(why) | SendError::Permanent(why)) => {
                    let audit = Origin::system().entry(Event::LinkUndelivered {
                        drop: drop.clone(),
                        mail: mail.id.clone(),
                        reason: why.clone(),
                        attempts: mail.attempts,
                    });
                    self.store
                        .mail_failed(&mail.id, Some(&mail.lease), &why, &audit)
                        .await?;
                    tracing::error!(mail = %mail.id, drop = %drop, attempts = mail.attempts, reason = %why, "link e-mail given up");
                    self.metrics.record_mail("failed");
                    pass.failed += 1;
                }
            }
            beat();
        }
        Ok(pass)
    }

    /// The outbox's upkeep, in every process whether it sends e-mail or not: messages of
    /// drops that closed are withdrawn (their links destroyed), messages past their 24 h that
    /// nobody holds are given up (audited), old rows are deleted. Returns how many were
    /// given up.
    pub async fn sweep_mail(&self, limit: i64) -> Result<usize, ServiceError> {
        let mut given_up = 0;
        for (id, drop, attempts) in self.store.sweep_mail(limit).await? {
            let why = "not sent within 24 hours";
            let audit = Origin::system().entry(Event::LinkUndelivered {
                drop,
                mail: id.clone(),
                reason: why.into(),
                attempts,
            });
            if self.store.mail_failed(&id, None, why, &audit).await? {
                given_up += 1;
            }
        }
        Ok(given_up)
    }

    /// The message for a claimed row: its sealed link opened (fail closed: a link that does
    /// not open is never sent), the text composed. The error says why, without the link.
    fn compose_mail(
        &self,
        mailer: &crate::mail::Mailer,
        mail: &ClaimedMail,
        now: i64,
    ) -> Result<lettre::Message, String> {
        let (Some(version), Some(blob)) = (mail.key_version, mail.sealed_link.clone()) else {
            return Err("the message has no link".into());
        };
        let sealed = SealedSecret {
            key_version: version,
            sealed: blob,
        };
        let to = MailBinding {
            mail_id: &mail.id,
            drop_id: &mail.drop.id,
            recipient: &mail.recipient,
        };
        let token = open_link(&self.keyring, to, &sealed)
            .map_err(|_| "its sealed link does not open with this keyring".to_owned())?;
        let token = std::str::from_utf8(&token).map_err(|_| "its sealed link is damaged")?;
        let url = zeroize::Zeroizing::new(format!("{}/d/{token}", self.settings.public_url));
        let s = &self.settings;
        let logo = s.brand_logo.as_ref().map(|l| l.bytes());
        compose(&LinkMail {
            mail_id: &mail.id,
            from: mailer.from(),
            to: &mail.recipient,
            brand: &s.brand_name,
            org: &mail.drop.org,
            note: mail.drop.note.as_deref(),
            url: &url,
            expires_at: mail.drop.expires_at,
            contact: mail.drop.contact.as_ref(),
            support: s.support_email.as_deref(),
            why: match mail.purpose {
                Purpose::Link => crate::mail::Why::First,
                Purpose::Again => crate::mail::Why::Again,
                Purpose::Reminder => crate::mail::Why::Reminder,
            },
            connect: self
                .checker
                .kinds()
                .get(mail.drop.kind)
                .is_some_and(|k| k.intake() == crate::greenhouse::kinds::Intake::Connect),
            logo: logo
                .as_deref()
                .zip(s.brand_logo.as_ref().map(|l| l.content_type())),
            now_ms: now,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_then_stays_hourly() {
        let waits: Vec<i64> = (1..=9).map(|a| super::backoff_ms(a) / 1000).collect();
        assert_eq!(waits, [10, 30, 60, 120, 300, 600, 1800, 3600, 3600]);
    }
}

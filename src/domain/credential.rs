//! Credentials (SPEC §3): what was accepted, as metadata. The secret itself
//! is never part of these types.

use super::drop::Metadata;
use super::kind::Kind;
use super::release::Release;
use super::verification::{Outcome, Verification};
use serde::{Deserialize, Serialize};

/// First background re-check of a pending credential (SPEC §3: within a minute).
pub const FIRST_RECHECK_MS: i64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Verified,
    Insufficient,
    Invalid,
    /// A partner grant Greenhouse no longer honours (`invalid_grant` on refresh).
    Disconnected,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Verified,
        Status::Insufficient,
        Status::Invalid,
        Status::Disconnected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Verified => "verified",
            Status::Insufficient => "insufficient",
            Status::Invalid => "invalid",
            Status::Disconnected => "disconnected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn from_outcome(o: Outcome) -> Self {
        match o {
            Outcome::Pending => Status::Pending,
            Outcome::Verified => Status::Verified,
            Outcome::Insufficient => Status::Insufficient,
            Outcome::Invalid => Status::Invalid,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Waiting,
    Leased,
    Delivered,
    Destroyed,
}

impl Delivery {
    pub const ALL: [Delivery; 4] = [
        Delivery::Waiting,
        Delivery::Leased,
        Delivery::Delivered,
        Delivery::Destroyed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Waiting => "waiting",
            Delivery::Leased => "leased",
            Delivery::Delivered => "delivered",
            Delivery::Destroyed => "destroyed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A credential's metadata as stored and shown.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialMeta {
    pub id: String,
    pub drop_id: String,
    pub org: String,
    /// Copied from the drop when the credential was accepted.
    pub external_id: Option<String>,
    /// Copied from the drop when the credential was accepted.
    pub metadata: Option<Metadata>,
    pub kind: Kind,
    pub release: Release,
    pub status: Status,
    pub hint: String,
    pub verification: Verification,
    pub delivery: Delivery,
    pub lease_expires_at: Option<i64>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub destroyed_at: Option<i64>,
    /// The credential of a relink that replaced this one (SPEC §15).
    pub superseded_by: Option<String>,
    /// The last health check (SPEC §15), if one ran.
    pub last_checked_at: Option<i64>,
    /// Health checks in a row that Greenhouse could not answer (the credential stays
    /// verified; staff see "last check failed").
    pub health_failures: i64,
}

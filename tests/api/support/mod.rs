//! What the integration tests share: apps and databases to test against ([`helpers`]), a
//! WebDriver client for headless Chromium ([`webdriver`]) and `keydrop serve` as a child
//! process ([`processes`]).

pub mod custody;
pub mod fake_idp;
pub mod fake_kms;
pub mod helpers;
pub mod processes;
pub mod smtpd;
pub mod webdriver;

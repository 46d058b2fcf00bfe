//! Operator passwords: stored only as argon2 hashes (PHC strings) in the config file,
//! made by `chat-server --hash-password` and checked by OPER off the event loop.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};

/// The argon2id hash of `password` with a fresh random salt, in PHC form.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC hash `phc`. Slow on purpose (tens of milliseconds):
/// call it from a blocking thread.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("operpassword").unwrap();
        let b = hash("operpassword").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("operpassword", &a));
        assert!(!verify("wrong", &a));
        assert!(!verify("operpassword", "not a hash"));
    }
}

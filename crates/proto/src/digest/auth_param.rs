//! A parameter kept as it was received.

use std::borrow::Cow;

/// An `auth-param` (`name=value`) that has no field of its own in the
/// typed header structs: extension parameters are kept in order so that a
/// proxy can print them again.
///
/// `value` is unquoted and unescaped. On printing it is written bare when it
/// is a token and as a quoted-string otherwise (RFC 7235 §2.1 makes both
/// forms equivalent). `name` is printed as is, so a parameter built by hand
/// must use a token for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthParam<'a> {
    /// The parameter name as received (compare it ignoring ASCII case).
    pub name: Cow<'a, str>,
    /// The value with quotes and escapes removed.
    pub value: Cow<'a, str>,
}

impl<'a> AuthParam<'a> {
    /// A parameter from a name and a value.
    pub fn new(name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Copies borrowed text so that the parameter outlives its input.
    #[must_use]
    pub fn into_owned(self) -> AuthParam<'static> {
        AuthParam {
            name: Cow::Owned(self.name.into_owned()),
            value: Cow::Owned(self.value.into_owned()),
        }
    }
}

/// Copies every parameter of a list (see [`AuthParam::into_owned`]).
pub(crate) fn into_owned_params(params: Vec<AuthParam<'_>>) -> Vec<AuthParam<'static>> {
    params.into_iter().map(AuthParam::into_owned).collect()
}

/// Finds a parameter by name, ignoring ASCII case.
pub(crate) fn find<'p, 'a>(params: &'p [AuthParam<'a>], name: &str) -> Option<&'p AuthParam<'a>> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_copy_is_equal() {
        let text = String::from("v");
        let p = AuthParam::new("n", text.as_str());
        let owned = p.clone().into_owned();
        assert_eq!(p, owned);
        assert_eq!(find(&[owned], "N").map(|p| p.value.as_ref()), Some("v"));
    }
}

//! `closed_set!`: an enum over a closed set of names (a status, an error code) whose one
//! spelling is written once, next to its variant. serde, the OpenAPI schema (utoipa reads the
//! `rename`), `as_str` (metrics labels, log fields), `FromStr` and SQLite all use that spelling.

/// Declares `pub enum $name { Variant = "spelling", ... }` with `ALL`, `as_str`, `Display`,
/// `FromStr`, serde and `utoipa::ToSchema`. The spelling is taken as a `tt`, not a `literal`:
/// a `literal` fragment reaches derive macros wrapped in an invisible group, which utoipa
/// does not read as a `rename` (the schema would then list the Rust names).
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $spelling:tt ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $spelling)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $spelling),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::closed::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($spelling => Ok($name::$variant),)+
                    _ => Err($crate::closed::UnknownName {
                        set: stringify!($name),
                        name: s.to_string(),
                    }),
                }
            }
        }
    };
}

/// Adds `rusqlite::types::ToSql`/`FromSql` to a `closed_set!` enum: stored as its spelling,
/// so the database reads the same as the JSON API.
macro_rules! sql_text {
    ($name:ident) => {
        impl tokio_postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &tokio_postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
            {
                <&str as tokio_postgres::types::ToSql>::to_sql(&self.as_str(), ty, out)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <&str as tokio_postgres::types::ToSql>::accepts(ty)
            }

            tokio_postgres::types::to_sql_checked!();
        }

        impl<'a> tokio_postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                Ok(<&str as tokio_postgres::types::FromSql>::from_sql(ty, raw)?.parse()?)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <&str as tokio_postgres::types::FromSql>::accepts(ty)
            }
        }

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                value
                    .as_str()?
                    .parse()
                    .map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

/// A name that is not in a closed set (a stored value written by something else).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a {set}")]
pub struct UnknownName {
    pub set: &'static str,
    pub name: String,
}

#[cfg(test)]
mod tests {
    closed_set! {
        /// A set to test the macro on.
        pub enum Colour {
            Red = "red",
            DeepBlue = "deep_blue",
        }
    }
    sql_text!(Colour);

    #[test]
    fn one_spelling_for_serde_display_and_parse() {
        for &c in Colour::ALL {
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json, c.as_str());
            assert_eq!(serde_json::from_value::<Colour>(json).unwrap(), c);
            assert_eq!(c.to_string().parse::<Colour>().unwrap(), c);
        }
        assert_eq!(Colour::DeepBlue.as_str(), "deep_blue");
        let e = "DeepBlue".parse::<Colour>().unwrap_err();
        assert_eq!(e.to_string(), "\"DeepBlue\" is not a Colour");
    }

    #[test]
    fn sqlite_round_trip_and_unknown_text() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for &c in Colour::ALL {
            let back: Colour = conn.query_row("SELECT ?1", [c], |r| r.get(0)).unwrap();
            assert_eq!(back, c);
            let text: String = conn.query_row("SELECT ?1", [c], |r| r.get(0)).unwrap();
            assert_eq!(text, c.as_str());
        }
        let e = conn
            .query_row("SELECT 'green'", [], |r| r.get::<_, Colour>(0))
            .unwrap_err();
        assert!(
            matches!(e, rusqlite::Error::FromSqlConversionFailure(..)),
            "{e:?}"
        );
        let e = conn
            .query_row("SELECT 3", [], |r| r.get::<_, Colour>(0))
            .unwrap_err();
        assert!(matches!(e, rusqlite::Error::InvalidColumnType(..)), "{e:?}");
    }
}

//! The shipped network profiles (`scenarios/hardware/network/*.yaml`), embedded in the binary
//! so that a bare name such as `connectx6-100g-roce` works from any folder.

use std::path::Path;

use super::{NetError, NetworkProfile};

/// Built-in network profiles: (name, YAML text).
const EMBEDDED: &[(&str, &str)] = &[
    (
        "connectx6-100g-roce",
        include_str!("../../../scenarios/hardware/network/connectx6-100g-roce.yaml"),
    ),
    (
        "connectx6-100g-ib",
        include_str!("../../../scenarios/hardware/network/connectx6-100g-ib.yaml"),
    ),
    (
        "connectx7-400g-ib",
        include_str!("../../../scenarios/hardware/network/connectx7-400g-ib.yaml"),
    ),
    (
        "connectx3-qdr-ib",
        include_str!("../../../scenarios/hardware/network/connectx3-qdr-ib.yaml"),
    ),
    (
        "aws-efa-srd",
        include_str!("../../../scenarios/hardware/network/aws-efa-srd.yaml"),
    ),
    (
        "tcp-kernel-100g",
        include_str!("../../../scenarios/hardware/network/tcp-kernel-100g.yaml"),
    ),
];

/// Names of the built-in profiles.
pub fn builtin_network_names() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().map(|(n, _)| *n)
}

/// Loads a built-in profile by name, or a YAML file when `name_or_path` ends in `.yaml`/`.yml`.
pub fn load_network(name_or_path: &str) -> Result<NetworkProfile, NetError> {
    if name_or_path.ends_with(".yaml") || name_or_path.ends_with(".yml") {
        return NetworkProfile::load(Path::new(name_or_path));
    }
    match EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
        Some((_, text)) => NetworkProfile::from_yaml(text),
        None => Err(NetError::InvalidParameter {
            field: "network".into(),
            value: name_or_path.into(),
            reason: format!(
                "not a built-in profile ({}) nor a .yaml file",
                builtin_network_names().collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_loads() {
        for name in builtin_network_names() {
            let p = load_network(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.name, name);
        }
        assert!(load_network("cx6").is_err());
    }
}

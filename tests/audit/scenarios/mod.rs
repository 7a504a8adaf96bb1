//! Planted scenarios (issue 26, "a suite of planted scenarios"): a table of small labs, each
//! described by an inventory or a TiUP topology, with the finding it must raise first, the cell
//! every face is asked about, the fix's target and what no fix may propose. Each runs through the
//! report model, `diagnose`, the dashboard model and `fix` (`harness.rs`), which must agree; in
//! every one no fix proposes an outsider's CN. `docs/judgment.md` lists them.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod harness;
mod inventory;
mod topology;

/// One test per scenario of the table: `name => module::function`.
macro_rules! scenarios {
    ($($(#[$attr:meta])* $name:ident => $table:ident,)*) => {
        $(
            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                harness::check($table::$name()).await;
            }
        )*

        /// The names of the table's scenarios, in order.
        const NAMES: &[&str] = &[$(stringify!($name),)*];
    };
}

scenarios! {
    etcd_peer_enforces_an_unstated_list => inventory,
    wrong_ca_component_identity => inventory,
    garbage_port_is_unencrypted => inventory,
    silent_port_answers_no_tls => inventory,
    nginx_plaintext_beside_tls_components => inventory,
    outsider_in_tikv_without_a_list => inventory,
    outsider_in_generic_without_a_list => inventory,
    dashboard_needs_tikv_status => inventory,
    guide_pd_list_lacks_pd => inventory,
    guide_tikv_list_lacks_tikv_server => inventory,
    outsider_plus_unstated_list => inventory,
    wrong_ca_plus_needed_caller_missing => inventory,
    expired_component_identity => inventory,
    identity_without_client_auth => inventory,
    configured_list_not_enforced => inventory,
    status_list_not_applied => inventory,
    expired_server_certificate => inventory,
    server_certificate_wrong_san => inventory,
    plaintext_tidb_port_is_partial_tls => inventory,
    unreachable_endpoint => inventory,
    grpc_without_alpn => inventory,
    needed_by_caller_blocked => inventory,
    tiup_client_missing_from_tidb_status => inventory,
    typo_in_instance_override => topology,
    drift_topology_lists_pd => topology,
    topology_names_the_topology => topology,
    typo_plus_drift => topology,
}

/// The table covers what issue 26 asks for: at least 25 scenarios, names unique.
#[test]
fn the_table_has_at_least_25_scenarios() {
    let mut names = NAMES.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), NAMES.len());
    assert!(NAMES.len() >= 25, "{}", NAMES.len());
}

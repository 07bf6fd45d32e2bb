//! Secrets are I/O done at the edge, before planning: the planner stays pure.

use crate::model::Model;

/// Reads every declared VNC password (environment variable or file) into the model, with its
/// tag, before planning: the planner is pure, so secrets are I/O done here, at the edge. The
/// planner compares the value with the host's in memory and puts only a reference and the tag
/// in the plan (`plan::secrets`). A source that cannot be read becomes an error the planner
/// reports for that VM (naming the variable or file, never a value); nothing is printed here.
pub fn resolve_secrets(model: &mut Model) {
    for vm in model.vms.values_mut() {
        let (name, host) = (vm.name.clone(), vm.host.clone());
        if let Some(vnc) = vm.console.vnc.as_mut() {
            vnc.password_value = vnc.password.as_ref().map(|src| {
                crate::model::secret::read_vnc_password(src)
                    .map(|s| s.tagged(src, &host))
                    .map_err(|e| format!("VM `{name}`: VNC password: {e}"))
            });
        }
    }
}

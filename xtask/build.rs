//! With the `tch` backend, libtorch's library folder goes into the run path of xtask's
//! binaries, so they start without `LD_LIBRARY_PATH`. torch-sys announces the folder as
//! `DEP_TCH_LIBTORCH_LIB` to crates that depend on it directly.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}

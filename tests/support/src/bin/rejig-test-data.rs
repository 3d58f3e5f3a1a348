//! The test data from the command line, for scripts (the fuzz seeds):
//!
//! ```text
//! rejig-test-data list               key and path of every fetched and generated package
//! rejig-test-data copy DIR [KEY…]    copies them (or the named ones) into DIR, each named
//!                                    by its key with `/` made `_`
//! rejig-test-data tiny DIR COUNT     COUNT one-file packages in DIR/packages, their files
//!                                    laid out in DIR/root (bench/packs.sh)
//! ```

use std::path::Path;

use rejig_test_support::corpus;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let ["tiny", dir, count] = args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        let count: usize = count.parse().unwrap_or_else(|e| panic!("COUNT {count:?}: {e}"));
        let dir = Path::new(dir);
        rejig_test_support::rpm_builder::tiny_packages(&dir.join("packages"), &dir.join("root"), count);
        return;
    }
    let data = corpus::fetch();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["list"] => {
            for package in data.packages() {
                println!("{}\t{}", package.key, package.path.display());
            }
        }
        ["copy", dir, ref keys @ ..] => {
            let dir = Path::new(dir);
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for package in data.packages() {
                if keys.is_empty() || keys.contains(&package.key.as_str()) {
                    let to = dir.join(package.key.replace('/', "_"));
                    std::fs::copy(&package.path, &to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
                }
            }
            for key in keys {
                data.path(key);
            }
        }
        _ => {
            eprintln!(
                "usage: rejig-test-data list | rejig-test-data copy DIR [KEY...] | rejig-test-data tiny DIR COUNT"
            );
            std::process::exit(2);
        }
    }
}

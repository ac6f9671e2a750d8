// `sqlx::migrate!` embeds the migration files at compile time; a new file alone would not make
// cargo rebuild, so the migrations directory is watched.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

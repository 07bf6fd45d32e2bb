//! Minimal-edit tests on the WebLogic fixture (tests/fixtures/weblogic/, written from the
//! schema): every byte outside the edited text stays as it was.

use super::url::{self, Address, Connect};
use super::xml::{apply, descriptor_files, edits, scan};

const FIXTURE: &str = include_str!("../../tests/fixtures/weblogic/OVMDS-jdbc.xml");
const CONFIG: &str = include_str!("../../tests/fixtures/weblogic/config.xml");
const SQL: &str = "SQL SELECT 1 FROM DUAL";

fn dg() -> String {
    url::render(&Connect {
        service: "ovs_rw".into(),
        addresses: vec![
            Address { host: "prim-scan".into(), port: 1521 },
            Address { host: "stby-scan".into(), port: 1521 },
        ],
        failover: true,
        load_balance: false,
        connect_timeout: Some(5),
        retry_count: Some(3),
    })
}

fn edit(text: &str, url: Option<&str>, pool: &[(&str, &str)]) -> String {
    let m = scan(text).expect("scans");
    let pool: Vec<(&str, String)> = pool.iter().map(|(e, v)| (*e, v.to_string())).collect();
    apply(text, edits(text, &m, url, &pool).expect("edits"))
}

#[test]
fn scan_finds_what_identifies_the_ovm_data_source() {
    let m = scan(FIXTURE).expect("scans");
    assert_eq!(m.name.as_deref(), Some("OVMDS"));
    assert_eq!(m.user.as_deref(), Some("ovs"));
    assert_eq!(m.url.as_ref().map(|u| u.1.clone()), Some(Ok("jdbc:oracle:thin:@dbhost:1521:XE".to_string())));
    let kids: Vec<&str> = m.pool_children.iter().map(|c| c.element.as_str()).collect();
    assert_eq!(kids, ["initial-capacity", "max-capacity", "test-frequency-seconds", "statement-cache-size"]);
    assert_eq!(descriptor_files(CONFIG).expect("config"), ["jdbc/OVMDS-jdbc.xml"]);
}

#[test]
fn url_and_pool_edits_touch_nothing_else() {
    let new = edit(
        FIXTURE,
        Some(&dg()),
        &[("test-frequency-seconds", "120"), ("test-connections-on-reserve", "true"), ("test-table-name", SQL)],
    );
    let want = FIXTURE
        .replace("<url>jdbc:oracle:thin:@dbhost:1521:XE</url>", &format!("<url>{}</url>", dg()))
        .replace("<test-frequency-seconds>0<", "<test-frequency-seconds>120<")
        .replace(
            "    <statement-cache-size>",
            &format!(
                "    <test-connections-on-reserve>true</test-connections-on-reserve>\n    \
                 <test-table-name>{SQL}</test-table-name>\n    <statement-cache-size>"
            ),
        );
    assert_eq!(new, want);
    // The result reads back as desired, so a second plan is empty.
    let m = scan(&new).expect("scans");
    assert!(url::same(&m.url.expect("url").1.expect("text"), &dg()));
}

#[test]
fn missing_pool_params_block_goes_after_the_driver_params() {
    let start = FIXTURE.find("  <jdbc-connection-pool-params>").expect("block");
    let end = FIXTURE.find("  <jdbc-data-source-params>").expect("next");
    let without = format!("{}{}", &FIXTURE[..start], &FIXTURE[end..]);
    let new = edit(&without, None, &[("test-connections-on-reserve", "true"), ("test-frequency-seconds", "60")]);
    let block = "\n  <jdbc-connection-pool-params>\n    <test-frequency-seconds>60</test-frequency-seconds>\n    \
                 <test-connections-on-reserve>true</test-connections-on-reserve>\n  </jdbc-connection-pool-params>";
    let at = without.find("</jdbc-driver-params>").expect("end") + "</jdbc-driver-params>".len();
    assert_eq!(new, format!("{}{block}{}", &without[..at], &without[at..]));
}

#[test]
fn inserted_param_takes_sibling_indentation_tabs_and_crlf() {
    let text = "<jdbc-data-source>\r\n\t<name>X</name>\r\n\t<jdbc-driver-params>\r\n\t\t<url>u</url>\r\n\t</jdbc-driver-params>\r\n\
                \t<jdbc-connection-pool-params>\r\n\t\t<max-capacity>9</max-capacity>\r\n\t</jdbc-connection-pool-params>\r\n</jdbc-data-source>\r\n";
    let new = edit(text, None, &[("test-table-name", SQL), ("initial-capacity", "2")]);
    let want = text.replace(
        "\t\t<max-capacity>9</max-capacity>",
        &format!("\t\t<initial-capacity>2</initial-capacity>\r\n\t\t<max-capacity>9</max-capacity>\r\n\t\t<test-table-name>{SQL}</test-table-name>"),
    );
    assert_eq!(new, want);
}

#[test]
fn text_is_escaped_and_read_back_unescaped() {
    let odd = "SQL SELECT 1 FROM DUAL WHERE 1<2 AND 'a'='a' & 3>2";
    let new = edit(FIXTURE, None, &[("test-table-name", odd)]);
    assert!(
        new.contains("<test-table-name>SQL SELECT 1 FROM DUAL WHERE 1&lt;2 AND 'a'='a' &amp; 3&gt;2</test-table-name>")
    );
    let m = scan(&new).expect("still well-formed");
    let got = m.pool_children.iter().find(|c| c.element == "test-table-name").expect("there");
    assert_eq!(got.value.as_deref(), Ok(odd));
}

#[test]
fn empty_elements_and_prefixes() {
    let text = "<j:jdbc-data-source xmlns:j=\"http://xmlns.oracle.com/weblogic/jdbc-data-source\">\n  <j:name>X</j:name>\n  \
                <j:jdbc-driver-params>\n    <j:url/>\n  </j:jdbc-driver-params>\n  <j:jdbc-connection-pool-params/>\n</j:jdbc-data-source>\n";
    let new = edit(text, Some("jdbc:oracle:thin:@//db:1521/s"), &[("test-connections-on-reserve", "true")]);
    let want = "<j:jdbc-data-source xmlns:j=\"http://xmlns.oracle.com/weblogic/jdbc-data-source\">\n  <j:name>X</j:name>\n  \
                <j:jdbc-driver-params>\n    <j:url>jdbc:oracle:thin:@//db:1521/s</j:url>\n  </j:jdbc-driver-params>\n  \
                <j:jdbc-connection-pool-params>\n    <j:test-connections-on-reserve>true</j:test-connections-on-reserve>\n  \
                </j:jdbc-connection-pool-params>\n</j:jdbc-data-source>\n";
    assert_eq!(new, want);
}

#[test]
fn not_a_data_source_or_broken_xml_is_an_error() {
    assert!(scan(CONFIG).expect_err("config.xml is not a module").contains("<domain>"));
    let e = scan("<jdbc-data-source>\n<name>x</nme>\n</jdbc-data-source>").expect_err("broken");
    assert!(e.contains("line 2"), "{e}");
    let m = scan("<jdbc-data-source><jdbc-driver-params><url>a<b/></url></jdbc-driver-params></jdbc-data-source>")
        .expect("scans");
    assert!(m.url.expect("url").1.is_err());
}

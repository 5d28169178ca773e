//! Parser tests on small hand-written fixtures, one per format variant of PERFTEST_FORMAT.md.

use super::*;

const DASH: &str =
    "---------------------------------------------------------------------------------------";

fn bw_file(unit: &str, rows: &[&str]) -> String {
    format!(
        "{DASH}\n                    RDMA_Write BW Test\n Dual-port       : OFF\t\tDevice         : mlx5_0\n \
         Number of qps   : 1\t\tTransport type : IB\n TX depth        : 128\n CQ Moderation   : 100\n \
         Mtu             : 4096[B]\n Link type       : IB\n Max inline data : 0[B]\n rdma_cm QPs\t : OFF\n\
         {DASH}\n local address: LID 0x01 QPN 0x0001 PSN 0x1 RKey 0x1 VAddr 0x1\n{DASH}\n \
         #bytes     #iterations    BW peak[{unit}/sec]    BW average[{unit}/sec]   MsgRate[Mpps]\n{}\n{DASH}\n",
        rows.join("\n")
    )
}

#[test]
fn mb_table_with_cpu_warning_inside() {
    let text = bw_file(
        "MB",
        &[
            " 2          20000            9.88               9.78               5.128076",
            "Conflicting CPU frequency values detected: 2300.000000 != 2394.296000. CPU Frequency is not max.",
            " 4096       20000            3613.43            3611.74            0.924606",
        ],
    );
    let runs = parse_perftest(&text).unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r.test.short_name(), "write_bw");
    assert_eq!(
        r.table,
        Some(TableKind::Bandwidth {
            unit: BwUnit::MB,
            qos: false,
            per_port: false
        })
    );
    assert_eq!(r.rows.len(), 2);
    assert_eq!(
        (
            r.mtu_bytes(),
            r.tx_depth(),
            r.cq_moderation(),
            r.max_inline_bytes()
        ),
        (Some(4096), Some(128), Some(100), Some(0))
    );
    assert_eq!(r.header_value("rdma_cm QPs"), Some("OFF"));
    assert_eq!(r.header_value("Device"), Some("mlx5_0"));
    match r.rows[1] {
        Row::Bandwidth(b) => assert_eq!(
            (b.bytes, b.iterations, b.bw_avg, b.msg_rate_mpps),
            (4096, 20000, 3611.74, 0.924606)
        ),
        _ => panic!(),
    }
}

#[test]
fn mib_table_with_tabs_before_msgrate() {
    let text = bw_file(
        "MiB",
        &[" 8          1000             17.70              17.49  \t\t     2.292482"],
    );
    let r = &parse_perftest(&text).unwrap()[0];
    assert!(matches!(
        r.table,
        Some(TableKind::Bandwidth {
            unit: BwUnit::MiB,
            ..
        })
    ));
    assert_eq!(r.rows.len(), 1);
}

#[test]
fn gbit_table_with_six_decimal_small_rows() {
    let text = bw_file(
        "Gb",
        &[
            " 2          5000           0.042250            0.042144            2.634018",
            " 65536      5000             392.38             392.34\t\t     0.748336",
        ],
    );
    let r = &parse_perftest(&text).unwrap()[0];
    let Some(TableKind::Bandwidth { unit, .. }) = r.table else {
        panic!()
    };
    assert_eq!(unit, BwUnit::Gb);
    let Row::Bandwidth(b) = r.rows[1] else {
        panic!()
    };
    assert!((unit.to_mib_s(b.bw_avg) - 46770.57).abs() < 0.01);
}

const LAT9: &str = "---------------------------------------------------------------------------------------
                    RDMA_Read Latency Test
 Dual-port       : OFF          Device         : mlx4_0
 Number of qps   : 1            Transport type : IB
 Connection type : RC           Using SRQ      : OFF
 TX depth        : 1
 Mtu             : 2048[B]
 Link type       : IB
 Outstand reads  : 16
 rdma_cm QPs     : OFF
 Data ex. method : Ethernet
---------------------------------------------------------------------------------------
 local address: LID 0x03 QPN 0x3352c PSN 0x344c7e OUT 0x10 RKey 0x18011b4d VAddr 0x007f5571f70000
 remote address: LID 0x0a QPN 0x2aa38 PSN 0xc278fc OUT 0x10 RKey 0x800103c1 VAddr 0x007fa47aed1000
---------------------------------------------------------------------------------------
 #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] 
 2       1000          1.90           13.00        2.00               2.01          0.32            2.13                    9.95   
 4       1000          1.92           11.95        2.01  \t       2.02     \t0.32\t\t2.13 \t\t10.36
Conflicting CPU frequency values detected: 2299.921000 != 2397.578000. CPU Frequency is not max.
 8388608 1000          2177.92        2240.08      2184.09            2184.33       2.24            2192.22                 2202.42
---------------------------------------------------------------------------------------
";

#[test]
fn nine_column_latency_sweep() {
    let runs = parse_perftest(LAT9).unwrap();
    let r = &runs[0];
    assert_eq!(r.test.short_name(), "read_lat");
    assert_eq!(r.table, Some(TableKind::Latency { full: true }));
    assert_eq!(
        r.rows.iter().map(Row::bytes).collect::<Vec<_>>(),
        vec![2, 4, 8388608]
    );
    let Row::Latency(l) = r.rows[1] else { panic!() };
    assert_eq!(
        (l.t_typical_us, l.t_avg_us, l.p999_us),
        (2.01, Some(2.02), Some(10.36))
    );
    assert_eq!(
        (r.outstanding_reads(), r.link_type()),
        (Some(16), Some("IB"))
    );
}

#[test]
fn five_column_latency_and_atomic_name() {
    let text = format!(
        "{DASH}\n                    Atomic CMP_AND_SWAP Latency Test\n TX depth        : 1\n{DASH}\n \
         #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]\n 8       1000          2.27           14.36        2.34\n{DASH}\n"
    );
    let r = &parse_perftest(&text).unwrap()[0];
    assert_eq!(r.test.verb, PerftestVerb::CompareSwap);
    assert_eq!(r.test.short_name(), "atomic_lat");
    assert_eq!(r.table, Some(TableKind::Latency { full: false }));
    let Row::Latency(l) = r.rows[0] else { panic!() };
    assert_eq!((l.t_typical_us, l.t_avg_us), (2.34, None));
}

#[test]
fn duration_mode_latency() {
    let text = format!(
        "{DASH}\n                    Send Latency Test\n{DASH}\n #bytes        #iterations       t_avg[usec]    tps average\n \
         2       123456            1.05           951234.12\n{DASH}\n"
    );
    let r = &parse_perftest(&text).unwrap()[0];
    assert_eq!(r.table, Some(TableKind::LatencyDuration));
    let Row::LatencyDuration(d) = r.rows[0] else {
        panic!()
    };
    assert_eq!((d.t_avg_us, d.tps), (1.05, Some(951234.12)));
}

#[test]
fn interleaved_server_and_client_deduplicate() {
    // Two header blocks merged, two column headers, the 8 MiB row printed twice, then the
    // server's copy of the whole run (header + same row) after a banner.
    let text = format!(
        "************************************\n* Waiting for client to connect... *\n************************************\n\
         {DASH}\n                    RDMA_Write BW Test\nDual-port       : OFF          Device         : ib0\n\
         {DASH}\n                    RDMA_Write BW Test\nDual-port       : OFF          Device         : ib0\nTX depth        : 128\n\
         CQ Moderation   : 100\nMtu             : 4096[B]\n{DASH}\nMtu             : 4096[B]\n\
         local address: LID 0xd06 QPN 0x092f PSN 0x3ff1bc\n{DASH}\n{DASH}\n\
         #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n\
         #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n\
         2          2000             5.32               5.30               2.778732\n\
         8388608    2000             23240.68            23240.68                  0.002905\n{DASH}\n\
         8388608    2000             23240.68            23240.68                  0.002905\n{DASH}\n\
         {DASH}\n                    RDMA_Write BW Test\n{DASH}\n\
         #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n\
         8388608    2000             23240.68            23240.68                  0.002905\n{DASH}\n"
    );
    let runs = parse_perftest(&text).unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].rows.len(), 2);
    assert_eq!(runs[0].mtu_bytes(), Some(4096));
}

#[test]
fn bad_row_is_an_error_naming_the_line() {
    let text = bw_file(
        "MB",
        &[" 2          20000            9.88               9.78"],
    );
    let err = parse_perftest(&text).unwrap_err();
    assert_eq!(err.line, 15, "{err}");
    assert!(err.to_string().contains("line 15"), "{err}");
    let text = bw_file(
        "MB",
        &[" 2          20000            9.88               x.78     5.1"],
    );
    assert!(parse_perftest(&text).unwrap_err().message.contains("x.78"));
}

#[test]
fn unknown_unit_and_missing_table_are_errors() {
    let text = bw_file("KB", &[" 2 1 1 1 1"]);
    assert!(
        parse_perftest(&text)
            .unwrap_err()
            .message
            .contains("KB/sec")
    );
    let err = parse_perftest("hello\nworld\n").unwrap_err();
    assert!(err.message.contains("no perftest result table"));
}

#[test]
fn test_names_of_all_eight_tools() {
    let cases = [
        ("RDMA_Read Latency Test", "read_lat"),
        ("RDMA_Write Latency Test", "write_lat"),
        ("Send Latency Test", "send_lat"),
        ("Atomic FETCH_AND_ADD Latency Test", "atomic_lat"),
        ("RDMA_Read BW Test", "read_bw"),
        ("RDMA_Write Post List BW Test", "write_bw"),
        ("Send Bidirectional BW Test", "send_bw"),
        ("Atomic CMP_AND_SWAP BW Test", "atomic_bw"),
    ];
    for (line, name) in cases {
        assert_eq!(parse_test_name(line).unwrap().short_name(), name, "{line}");
    }
    assert!(
        parse_test_name("RDMA_Write Post List BW Test")
            .unwrap()
            .post_list
    );
    assert!(parse_test_name("Hello World Test").is_none());
}

#[test]
fn header_pairs_split_on_tabs_and_wide_gaps() {
    let p = parse_header_pairs(" ibv_wr* API     : ON\t\tUsing Enhanced Reorder      : OFF");
    assert_eq!(
        p,
        vec![
            ("ibv_wr* API".into(), "ON".into()),
            ("Using Enhanced Reorder".into(), "OFF".into())
        ]
    );
    let p = parse_header_pairs(" rdma_cm QPs\t : OFF");
    assert_eq!(p, vec![("rdma_cm QPs".into(), "OFF".into())]);
    let p = parse_header_pairs(" Number of qps   : 1    Transport type : IB");
    assert_eq!(p.len(), 2);
}

#[test]
fn nan_inf_and_negative_values_are_refused_naming_the_line() {
    for bad in ["nan", "inf", "-3.5"] {
        let text = bw_file(
            "MB",
            &[&format!(
                " 4096       20000            {bad}            3611.74            0.924606"
            )],
        );
        let err = parse_perftest(&text).unwrap_err();
        assert!(err.line > 0, "{bad}: {err}");
        assert!(err.to_string().contains(bad), "{bad}: {err}");
        assert!(err.to_string().contains("finite non-negative"), "{err}");
    }
}

//! pcap (in progress)

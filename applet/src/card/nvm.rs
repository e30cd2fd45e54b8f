//! Non-volatile memory with a power-cut simulation, and an atomic transactional store
//! on top of it.
//!
//! [`Nvm`] is a fixed byte image (`[u8; N]`, erased state `FF`) that counts write
//! operations. [`Nvm::cut_power_at`] makes write number `k` (counted from 0) tear after
//! a chosen number of bytes and every later write fail with [`NvmError::PowerLost`]; a
//! single-byte write is atomic (it either happens or not). The card "restarts" by
//! [`Nvm::power_on`] and building a new [`Store`] over the image, which runs recovery.
//!
//! [`Store`] splits the image into a data area `0..data_len` and a redo journal
//! `data_len..N`:
//!
//! | journal offset | content |
//! | --- | --- |
//! | 0 | state: [`COMMITTED`] means "replay the log", anything else means "empty" |
//! | 1..3 | log length in bytes (big endian) |
//! | 3.. | entries: offset (u16 BE), length (u16 BE), new bytes |
//!
//! A transaction appends entries to the journal only; reads inside it see the pending
//! bytes overlaid. Commit writes the log length, then the one-byte state `COMMITTED`
//! (the commit point), applies the entries to the data area, and writes the state
//! back to `00`. Recovery replays a committed log (idempotent) and clears the state.
//! So a cut at any write, torn or not, and also during recovery, leaves the data area
//! exactly as before the transaction or exactly as after it.
//! This mirrors the begin / commit / abort model of Java Card transactions
//! (JCRE specification §7); the journal layout is this project's own.
//!
//! For tools and tests the [`Nvm`] also logs where the last [`TX_LOG_LEN`] transactions
//! began ([`Nvm::tx_start`]: the write number of the first entry's header, the entry's
//! offset, length and first bytes), so a power cut can be placed exactly at the first
//! write of a chosen transaction (`applet::tracker::record::RecordTx` names the
//! tracker's). The log is not part of the image.

use crate::wire::apdu::StatusWord;

/// Value of the journal state byte meaning "a complete log is committed, replay it".
pub const COMMITTED: u8 = 0xC3;
/// Value written to the journal state byte once the data area is consistent.
pub const IDLE: u8 = 0x00;
/// Bytes of journal header (state + length).
pub const JOURNAL_HEADER_LEN: usize = 3;
/// Bytes of header in front of each journal entry (offset + length).
pub const ENTRY_HEADER_LEN: usize = 4;

/// Errors of the NVM and the transactional store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NvmError {
    /// Offset/length outside the image or the data area.
    OutOfRange,
    /// The transaction's log does not fit the journal.
    JournalFull,
    /// Power was cut; the card must restart ([`Nvm::power_on`] and a new [`Store`]).
    PowerLost,
    /// `write`/`commit` outside a transaction.
    NotInTransaction,
    /// `begin` inside a transaction (no nesting).
    AlreadyInTransaction,
    /// `data_len` leaves no room for a journal, or exceeds 65535.
    BadLayout,
}

impl From<NvmError> for StatusWord {
    /// Every NVM failure is reported as `65 81` memory problem (TS 102 221 §10.2.1.4);
    /// the state of the data area is unchanged (old or new, never mixed).
    fn from(_: NvmError) -> Self {
        StatusWord::MEMORY_PROBLEM
    }
}

/// How many transaction starts an [`Nvm`] keeps ([`Nvm::tx_start`]).
pub const TX_LOG_LEN: usize = 32;
/// Bytes of a transaction's first entry kept in its [`TxStart`].
pub const TX_HEAD_LEN: usize = 8;

/// Where a transaction began, as [`Store::write`] logs it in the [`Nvm`] for tools and
/// tests (e.g. to cut power exactly at the first write of a chosen transaction): the
/// NVM write number of its first journal write, which is the first entry's header, and
/// that entry's data-area range and first bytes. Recovery's writes start no transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxStart {
    /// Write number of the first entry's header ([`Nvm::writes`] as that write began;
    /// the `k` of [`Nvm::cut_power_at`] that cuts it).
    pub write: u32,
    /// Data-area offset the first entry writes.
    pub offset: u16,
    /// Its length in bytes.
    pub len: u16,
    /// Its first bytes (up to [`TX_HEAD_LEN`]; `00` beyond `len`).
    pub head: [u8; TX_HEAD_LEN],
}

impl TxStart {
    const NONE: TxStart = TxStart {
        write: 0,
        offset: 0,
        len: 0,
        head: [0; TX_HEAD_LEN],
    };
}

/// A simulated NVM image of `N` bytes with write counting and power cuts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nvm<const N: usize> {
    image: [u8; N],
    writes: u32,
    cut: Option<(u32, usize)>,
    powered: bool,
    /// The last [`TX_LOG_LEN`] transaction starts, slot `n % TX_LOG_LEN` for the n-th.
    tx_log: [TxStart; TX_LOG_LEN],
    /// Transaction starts logged since creation.
    tx_logged: u32,
}

impl<const N: usize> Default for Nvm<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Nvm<N> {
    /// An erased image (all `FF`), powered, no cut scheduled.
    pub const fn new() -> Self {
        Self::from_image([0xFF; N])
    }

    /// An NVM holding `image`.
    pub const fn from_image(image: [u8; N]) -> Self {
        Self {
            image,
            writes: 0,
            cut: None,
            powered: true,
            tx_log: [TxStart::NONE; TX_LOG_LEN],
            tx_logged: 0,
        }
    }

    /// The raw image.
    pub fn image(&self) -> &[u8; N] {
        &self.image
    }

    /// Number of write operations attempted since creation (including failed ones).
    pub fn writes(&self) -> u32 {
        self.writes
    }

    /// Whether power is still on (no cut has happened yet).
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Schedules a power cut at write number `k` (the value [`Self::writes`] has when
    /// that write starts): only the first `torn_bytes` bytes of that write reach the
    /// image (a 1-byte write is atomic: 0 → not written), and every later write fails.
    pub fn cut_power_at(&mut self, k: u32, torn_bytes: usize) {
        self.cut = Some((k, torn_bytes));
    }

    /// The scheduled cut as [`Self::cut_power_at`] set it (`(k, torn_bytes)`), until
    /// [`Self::power_on`] clears it.
    pub fn scheduled_cut(&self) -> Option<(u32, usize)> {
        self.cut
    }

    /// Number of transaction starts logged since creation ([`Self::tx_start`]).
    pub fn tx_count(&self) -> u32 {
        self.tx_logged
    }

    /// The `n`-th transaction start (0 = the first since creation), while it is among
    /// the last [`TX_LOG_LEN`] logged.
    pub fn tx_start(&self, n: u32) -> Option<TxStart> {
        let kept = u32::try_from(TX_LOG_LEN).unwrap_or(u32::MAX);
        if n >= self.tx_logged || self.tx_logged - n > kept {
            return None;
        }
        self.tx_log.get(usize::try_from(n % kept).ok()?).copied()
    }

    fn log_tx(&mut self, start: TxStart) {
        let kept = u32::try_from(TX_LOG_LEN).unwrap_or(u32::MAX);
        if let Some(slot) = usize::try_from(self.tx_logged % kept)
            .ok()
            .and_then(|i| self.tx_log.get_mut(i))
        {
            *slot = start;
        }
        self.tx_logged = self.tx_logged.saturating_add(1);
    }

    /// Power comes back: clears the cut so writes work again. The image is what the
    /// cut left; build a new [`Store`] on it to run recovery.
    pub fn power_on(&mut self) {
        self.cut = None;
        self.powered = true;
    }

    /// `len` bytes at `offset`.
    pub fn read(&self, offset: usize, len: usize) -> Result<&[u8], NvmError> {
        let end = offset.checked_add(len).ok_or(NvmError::OutOfRange)?;
        self.image.get(offset..end).ok_or(NvmError::OutOfRange)
    }

    /// Writes `bytes` at `offset` as one write operation.
    pub fn write(&mut self, offset: usize, bytes: &[u8]) -> Result<(), NvmError> {
        let end = offset
            .checked_add(bytes.len())
            .ok_or(NvmError::OutOfRange)?;
        if end > N {
            return Err(NvmError::OutOfRange);
        }
        if !self.powered {
            return Err(NvmError::PowerLost);
        }
        let index = self.writes;
        self.writes = self.writes.saturating_add(1);
        let mut n = bytes.len();
        if let Some((k, torn)) = self.cut
            && index >= k
        {
            self.powered = false;
            if index > k {
                return Err(NvmError::PowerLost);
            }
            n = n.min(torn);
            if bytes.len() == 1 {
                n = if torn >= 1 { 1 } else { 0 };
            }
        }
        let dst = self
            .image
            .get_mut(offset..offset + n)
            .ok_or(NvmError::OutOfRange)?;
        dst.copy_from_slice(bytes.get(..n).ok_or(NvmError::OutOfRange)?);
        if self.powered {
            Ok(())
        } else {
            Err(NvmError::PowerLost)
        }
    }
}

/// A transactional store over an [`Nvm`]: the data area `0..data_len` changes only
/// through [`Store::begin`] / [`Store::write`] / [`Store::commit`] (or
/// [`Store::write_atomic`]), atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store<const N: usize> {
    nvm: Nvm<N>,
    data_len: usize,
    /// Bytes of log written in the open transaction, `None` outside one.
    tx: Option<usize>,
}

impl<const N: usize> Store<N> {
    /// Opens the store on `nvm` with a data area of `data_len` bytes (the rest is the
    /// journal) and runs [`Self::recover`]. This is what a card does at power-up.
    pub fn open(nvm: Nvm<N>, data_len: usize) -> Result<Self, NvmError> {
        let mut store = Self::attach(nvm, data_len)?;
        store.recover()?;
        Ok(store)
    }

    /// Like [`Self::open`] but without recovery: only for tests that cut power during
    /// recovery itself. Call [`Self::recover`] before using the store.
    pub fn attach(nvm: Nvm<N>, data_len: usize) -> Result<Self, NvmError> {
        if data_len > usize::from(u16::MAX)
            || data_len
                .checked_add(JOURNAL_HEADER_LEN + ENTRY_HEADER_LEN + 1)
                .is_none_or(|min| min > N)
        {
            return Err(NvmError::BadLayout);
        }
        Ok(Self {
            nvm,
            data_len,
            tx: None,
        })
    }

    /// Size of the data area.
    pub fn data_len(&self) -> usize {
        self.data_len
    }

    /// The underlying NVM (e.g. to schedule a cut).
    pub fn nvm(&self) -> &Nvm<N> {
        &self.nvm
    }

    /// The underlying NVM, mutable (to schedule a cut). Writing it directly bypasses
    /// the journal.
    pub fn nvm_mut(&mut self) -> &mut Nvm<N> {
        &mut self.nvm
    }

    /// Gives the NVM back, e.g. to "restart" the card after a cut.
    pub fn into_nvm(self) -> Nvm<N> {
        self.nvm
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    fn journal_cap(&self) -> usize {
        N - self.data_len - JOURNAL_HEADER_LEN
    }

    /// Replays a committed journal into the data area and marks the journal idle; drops
    /// an uncommitted one. Run at every start ([`Self::open`] does); idempotent.
    pub fn recover(&mut self) -> Result<(), NvmError> {
        self.tx = None;
        let j = self.data_len;
        let state = *self.nvm.read(j, 1)?.first().ok_or(NvmError::OutOfRange)?;
        if state == COMMITTED {
            let len = self.log_len_on_nvm()?;
            if len <= self.journal_cap() && self.entries_valid(len) {
                self.apply_log(len)?;
            }
        }
        if state != IDLE {
            self.nvm.write(j, &[IDLE])?;
        }
        Ok(())
    }

    fn log_len_on_nvm(&self) -> Result<usize, NvmError> {
        let b = self.nvm.read(self.data_len + 1, 2)?;
        let hi = b.first().copied().unwrap_or(0);
        let lo = b.get(1).copied().unwrap_or(0);
        Ok(usize::from(u16::from_be_bytes([hi, lo])))
    }

    /// Calls `f(offset, bytes)` for each entry of the `len`-byte log; `false` if the log
    /// is malformed.
    fn for_each_entry(&self, len: usize, mut f: impl FnMut(usize, &[u8])) -> bool {
        let Ok(log) = self.nvm.read(self.data_len + JOURNAL_HEADER_LEN, len) else {
            return false;
        };
        let mut rest = log;
        while !rest.is_empty() {
            let Some((hdr, tail)) = rest.split_at_checked(ENTRY_HEADER_LEN) else {
                return false;
            };
            let [o1, o2, l1, l2] = hdr else { return false };
            let off = usize::from(u16::from_be_bytes([*o1, *o2]));
            let n = usize::from(u16::from_be_bytes([*l1, *l2]));
            let Some((bytes, tail)) = tail.split_at_checked(n) else {
                return false;
            };
            if off.checked_add(n).is_none_or(|end| end > self.data_len) {
                return false;
            }
            f(off, bytes);
            rest = tail;
        }
        true
    }

    fn entries_valid(&self, len: usize) -> bool {
        self.for_each_entry(len, |_, _| {})
    }

    fn apply_log(&mut self, len: usize) -> Result<(), NvmError> {
        let start = self.data_len + JOURNAL_HEADER_LEN;
        let mut pos = 0;
        while pos < len {
            let hdr = self.nvm.read(start + pos, ENTRY_HEADER_LEN)?;
            let (off, n) = match hdr {
                [o1, o2, l1, l2] => (
                    usize::from(u16::from_be_bytes([*o1, *o2])),
                    usize::from(u16::from_be_bytes([*l1, *l2])),
                ),
                _ => return Err(NvmError::OutOfRange),
            };
            let src = start + pos + ENTRY_HEADER_LEN;
            // Copy through a small stack buffer: source and destination are both in
            // the image.
            let mut done = 0;
            while done < n {
                let mut chunk = [0u8; 32];
                let k = (n - done).min(chunk.len());
                let from = self.nvm.read(src + done, k)?;
                chunk
                    .get_mut(..k)
                    .ok_or(NvmError::OutOfRange)?
                    .copy_from_slice(from);
                self.nvm
                    .write(off + done, chunk.get(..k).ok_or(NvmError::OutOfRange)?)?;
                done += k;
            }
            pos += ENTRY_HEADER_LEN + n;
        }
        Ok(())
    }

    /// Opens a transaction.
    pub fn begin(&mut self) -> Result<(), NvmError> {
        if self.tx.is_some() {
            return Err(NvmError::AlreadyInTransaction);
        }
        if !self.nvm.is_powered() {
            return Err(NvmError::PowerLost);
        }
        self.tx = Some(0);
        Ok(())
    }

    /// Records `bytes` for `offset` in the open transaction (two NVM writes: entry
    /// header, then data). The data area is unchanged until [`Self::commit`].
    pub fn write(&mut self, offset: usize, bytes: &[u8]) -> Result<(), NvmError> {
        let used = self.tx.ok_or(NvmError::NotInTransaction)?;
        let end = offset
            .checked_add(bytes.len())
            .ok_or(NvmError::OutOfRange)?;
        if end > self.data_len {
            return Err(NvmError::OutOfRange);
        }
        let entry_len = ENTRY_HEADER_LEN + bytes.len();
        let new_used = used.checked_add(entry_len).ok_or(NvmError::JournalFull)?;
        if new_used > self.journal_cap() {
            return Err(NvmError::JournalFull);
        }
        let at = self.data_len + JOURNAL_HEADER_LEN + used;
        let off16 = u16::try_from(offset).map_err(|_| NvmError::OutOfRange)?;
        let len16 = u16::try_from(bytes.len()).map_err(|_| NvmError::OutOfRange)?;
        let [o1, o2] = off16.to_be_bytes();
        let [l1, l2] = len16.to_be_bytes();
        if used == 0 {
            let mut head = [0u8; TX_HEAD_LEN];
            for (d, s) in head.iter_mut().zip(bytes) {
                *d = *s;
            }
            self.nvm.log_tx(TxStart {
                write: self.nvm.writes(),
                offset: off16,
                len: len16,
                head,
            });
        }
        self.nvm.write(at, &[o1, o2, l1, l2])?;
        self.nvm.write(at + ENTRY_HEADER_LEN, bytes)?;
        self.tx = Some(new_used);
        Ok(())
    }

    /// Makes the open transaction durable and applies it (see the module docs). After
    /// `Ok`, the new state survives any later cut; after `Err(PowerLost)` the state after
    /// restart is old or new.
    pub fn commit(&mut self) -> Result<(), NvmError> {
        let used = self.tx.ok_or(NvmError::NotInTransaction)?;
        self.tx = None;
        if used == 0 {
            return Ok(());
        }
        let len16 = u16::try_from(used).map_err(|_| NvmError::JournalFull)?;
        let j = self.data_len;
        self.nvm.write(j + 1, &len16.to_be_bytes())?;
        self.nvm.write(j, &[COMMITTED])?;
        self.apply_log(used)?;
        self.nvm.write(j, &[IDLE])?;
        Ok(())
    }

    /// Drops the open transaction; the data area keeps its old state.
    pub fn abort(&mut self) {
        self.tx = None;
    }

    /// `begin`, `write`, `commit` in one call.
    pub fn write_atomic(&mut self, offset: usize, bytes: &[u8]) -> Result<(), NvmError> {
        self.begin()?;
        if let Err(e) = self.write(offset, bytes) {
            self.abort();
            return Err(e);
        }
        self.commit()
    }

    /// Reads `buf.len()` bytes of the data area at `offset`; inside a transaction the
    /// pending writes are visible.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let end = offset.checked_add(buf.len()).ok_or(NvmError::OutOfRange)?;
        if end > self.data_len {
            return Err(NvmError::OutOfRange);
        }
        buf.copy_from_slice(self.nvm.read(offset, buf.len())?);
        if let Some(used) = self.tx {
            self.for_each_entry(used, |off, bytes| {
                // Overlay the intersection of [off, off+len) and [offset, end).
                let lo = off.max(offset);
                let hi = (off + bytes.len()).min(end);
                if lo < hi
                    && let (Some(dst), Some(src)) = (
                        buf.get_mut(lo - offset..hi - offset),
                        bytes.get(lo - off..hi - off),
                    )
                {
                    dst.copy_from_slice(src);
                }
            });
        }
        Ok(())
    }

    /// The committed data area (pending transaction bytes not included).
    pub fn committed(&self) -> &[u8] {
        self.nvm.read(0, self.data_len).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const N: usize = 256;
    const DATA: usize = 96;

    /// A fresh store whose data area holds `0, 1, 2, …` (the "old" state).
    fn old_store() -> Store<N> {
        let mut image = [0xFF; N];
        for (i, b) in image.iter_mut().take(DATA).enumerate() {
            *b = i as u8;
        }
        image[DATA] = IDLE;
        Store::open(Nvm::from_image(image), DATA).unwrap()
    }

    type Tx = Vec<(usize, Vec<u8>)>;

    fn run_tx(s: &mut Store<N>, tx: &Tx) -> Result<(), NvmError> {
        s.begin()?;
        for (off, bytes) in tx {
            s.write(*off, bytes)?;
        }
        s.commit()
    }

    fn expected_new(tx: &Tx) -> Vec<u8> {
        let mut v = old_store().committed().to_vec();
        for (off, bytes) in tx {
            v[*off..*off + bytes.len()].copy_from_slice(bytes);
        }
        v
    }

    fn restart(s: Store<N>) -> Store<N> {
        let mut nvm = s.into_nvm();
        nvm.power_on();
        Store::open(nvm, DATA).unwrap()
    }

    /// Cut at every write index of `tx` (with several tear lengths), and also at every
    /// write of the first recovery; assert old-or-new after restart.
    fn check_all_cuts(tx: &Tx) {
        let old = old_store().committed().to_vec();
        let new = expected_new(tx);
        let mut dry = old_store();
        let w0 = dry.nvm().writes();
        run_tx(&mut dry, tx).unwrap();
        assert_eq!(dry.committed(), &new[..]);
        let total = dry.nvm().writes() - w0;
        for k in 0..=total {
            for torn in [0usize, 1, 2, 3, 17, usize::MAX] {
                let mut s = old_store();
                let w0 = s.nvm().writes();
                s.nvm_mut().cut_power_at(w0 + k, torn);
                let r = run_tx(&mut s, tx);
                if k == total {
                    assert_eq!(r, Ok(()));
                }
                let committed_ok = r.is_ok();
                // Restart, this time also cutting during recovery at each write.
                let image = s.into_nvm();
                for rk in 0..4u32 {
                    let mut nvm = image.clone();
                    nvm.power_on();
                    let mut s1 = Store::attach(nvm, DATA).unwrap();
                    let w = s1.nvm().writes();
                    s1.nvm_mut().cut_power_at(w + rk, torn);
                    let _ = s1.recover();
                    let s2 = restart(s1);
                    let got = s2.committed();
                    assert!(
                        got == &old[..] || got == &new[..],
                        "cut at write {k} torn {torn} recovery cut {rk}: mixed state"
                    );
                    if committed_ok {
                        assert_eq!(got, &new[..], "durability after Ok commit");
                    }
                }
            }
        }
    }

    #[test]
    fn every_cut_yields_old_or_new() {
        // Three regions, one overlapping another, one at the end of the data area.
        let tx: Tx = std::vec![
            (0, std::vec![0xAA; 10]),
            (5, std::vec![0xBB; 40]),
            (DATA - 3, std::vec![1, 2, 3]),
        ];
        check_all_cuts(&tx);
    }

    #[test]
    fn reads_see_pending_writes_and_abort_discards() {
        let mut s = old_store();
        s.begin().unwrap();
        s.write(2, &[9, 9]).unwrap();
        s.write(3, &[7]).unwrap();
        let mut buf = [0u8; 4];
        s.read(1, &mut buf).unwrap();
        assert_eq!(buf, [1, 9, 7, 4]);
        assert_eq!(&s.committed()[1..5], &[1, 2, 3, 4]);
        s.abort();
        s.read(1, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        // Abort leaves nothing to recover.
        let s = restart(s);
        assert_eq!(&s.committed()[1..5], &[1, 2, 3, 4]);
    }

    #[test]
    fn errors() {
        let mut s = old_store();
        assert_eq!(s.write(0, &[1]), Err(NvmError::NotInTransaction));
        assert_eq!(s.commit(), Err(NvmError::NotInTransaction));
        s.begin().unwrap();
        assert_eq!(s.begin(), Err(NvmError::AlreadyInTransaction));
        assert_eq!(s.write(DATA, &[1]), Err(NvmError::OutOfRange));
        assert_eq!(s.write(0, &[0; 200]), Err(NvmError::OutOfRange));
        // Journal is N - DATA - 3 = 157 bytes: two entries of 4+70, then a third fails.
        s.write(0, &[1; 70]).unwrap();
        s.write(0, &[2; 70]).unwrap();
        assert_eq!(s.write(0, &[3; 10]), Err(NvmError::JournalFull));
        s.commit().unwrap();
        assert_eq!(&s.committed()[..70], &[2; 70][..]);
        assert_eq!(
            Store::open(Nvm::<16>::new(), 10).unwrap_err(),
            NvmError::BadLayout
        );
        let mut buf = [0u8; 2];
        assert_eq!(s.read(DATA - 1, &mut buf), Err(NvmError::OutOfRange));
        assert_eq!(StatusWord::from(NvmError::JournalFull), StatusWord(0x6581));
    }

    #[test]
    fn transaction_starts_are_logged_with_their_first_write() {
        let mut s = old_store();
        let n0 = s.nvm().tx_count();
        let w0 = s.nvm().writes();
        s.write_atomic(7, &[1, 2, 3]).unwrap();
        s.begin().unwrap();
        s.write(40, &[9; 12]).unwrap();
        s.write(2, &[5]).unwrap();
        s.commit().unwrap();
        s.begin().unwrap();
        s.commit().unwrap(); // empty: starts nothing
        assert_eq!(s.nvm().tx_count(), n0 + 2);
        let a = s.nvm().tx_start(n0).unwrap();
        assert_eq!((a.write, a.offset, a.len), (w0, 7, 3));
        assert_eq!(a.head, [1, 2, 3, 0, 0, 0, 0, 0]);
        let b = s.nvm().tx_start(n0 + 1).unwrap();
        assert_eq!((b.offset, b.len, b.head), (40, 12, [9; 8]));
        assert!(b.write > a.write);
        assert_eq!(s.nvm().tx_start(n0 + 2), None);

        // Cutting at the logged write cuts that transaction's first journal write: the
        // state after restart is the old one, and the scheduled cut is visible until
        // power comes back.
        let mut s = old_store();
        let n = s.nvm().tx_count();
        let mut dry = s.clone();
        dry.write_atomic(7, &[1, 2, 3]).unwrap();
        let k = dry.nvm().tx_start(n).unwrap().write;
        s.nvm_mut().cut_power_at(k, 1);
        assert_eq!(s.nvm().scheduled_cut(), Some((k, 1)));
        assert_eq!(s.write_atomic(7, &[1, 2, 3]), Err(NvmError::PowerLost));
        assert_eq!(s.nvm().writes(), k + 1);
        let s = restart(s);
        assert_eq!(s.nvm().scheduled_cut(), None);
        assert_eq!(&s.committed()[7..10], &old_store().committed()[7..10]);
    }

    #[test]
    fn the_log_keeps_the_last_transactions() {
        let mut s = old_store();
        let n0 = s.nvm().tx_count();
        let total = u32::try_from(TX_LOG_LEN).unwrap() + 5;
        for i in 0..total {
            s.write_atomic(usize::try_from(i).unwrap(), &[0x55])
                .unwrap();
        }
        assert_eq!(s.nvm().tx_count(), n0 + total);
        assert_eq!(s.nvm().tx_start(n0 + 4), None);
        assert_eq!(s.nvm().tx_start(n0 + 5).unwrap().offset, 5);
        assert_eq!(s.nvm().tx_start(n0 + total - 1).unwrap().offset, 36);
    }

    #[test]
    fn erased_image_opens_clean() {
        let s = Store::open(Nvm::<64>::new(), 32).unwrap();
        assert_eq!(s.committed(), &[0xFF; 32][..]);
        assert_eq!(s.nvm().image()[32], IDLE);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn random_transactions_survive_every_cut(
            tx in proptest::collection::vec(
                (0usize..DATA).prop_flat_map(|off| (Just(off), proptest::collection::vec(any::<u8>(), 1..=(DATA - off).min(24)))),
                1..4,
            )
        ) {
            check_all_cuts(&tx);
        }

        #[test]
        fn garbage_journal_never_panics(image in proptest::collection::vec(any::<u8>(), N)) {
            let mut img = [0u8; N];
            img.copy_from_slice(&image);
            if let Ok(s) = Store::open(Nvm::from_image(img), DATA) {
                prop_assert_eq!(s.nvm().image()[DATA], IDLE);
            }
        }
    }
}

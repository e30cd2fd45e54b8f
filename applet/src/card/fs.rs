//! The card's file system: a static file tree, the selection state, and the file
//! commands SELECT, STATUS, READ BINARY, UPDATE BINARY and READ RECORD
//! (ETSI TS 102 221 §8, §11.1.1–§11.1.5; 3GPP TS 51.011 §9.2.1 for the GSM responses).
//!
//! ```text
//! MF 3F00
//! ├── EF.DIR 2F00     linear fixed 2 × 32, SFI 1E, read always      (USIM application template)
//! ├── EF.ICCID 2FE2   transparent 10,     SFI 02, read always      (update never)
//! ├── DF.TELECOM 7F10
//! ├── DF.GSM 7F20
//! │   ├── EF.IMSI 6F07  transparent 9, SFI 07, read PIN1           (update never)
//! │   └── EF.AD 6FAD    transparent 4, SFI 03, read always         (update never)
//! └── DF.IMEITRACK 7F4A   the applet's proprietary DF
//!     ├── EF.TRACK_CONFIG 6F01  transparent 64, read/update PIN1
//!     └── EF.TRACK_STATE 6F02   transparent 64, read PIN1, update never (applet only)
//! ADF.USIM (AID A0000000871002FFFFFFFF8907090000)
//! ├── EF.IMSI 6F07   same body as DF.GSM/EF.IMSI
//! └── EF.AD 6FAD     same body as DF.GSM/EF.AD
//! ```
//!
//! Every EF body lives in the transactional [`Store`] at a fixed offset (`*_BODY`
//! below); the PIN1 record at [`PIN1_BODY`]. "Update never" files are written only by
//! the card itself ([`write_body`]), e.g. at personalisation ([`personalise`]).
//! "ADM" access of TS 51.011 / TS 31.102 is modelled as never.
//!
//! The proprietary DF's FID `7F4A` is this project's choice (UNVERIFIED against the
//! TS 102 221 §8.6 reservation list; change it in [`FILES`] if a conflict turns up).

use super::CardError;
use super::nvm::Store;
use super::pin::{MAX_TRIES, PIN_LEN, Pin1, PinSession};
use crate::wire::apdu::StatusWord;

/// Offset of EF.ICCID's body in the store (10 bytes).
pub const ICCID_BODY: u16 = 0;
/// Offset of EF.IMSI's body (9 bytes), shared by DF.GSM and ADF.USIM.
pub const IMSI_BODY: u16 = 10;
/// Offset of EF.AD's body (4 bytes), shared by DF.GSM and ADF.USIM.
pub const AD_BODY: u16 = 19;
/// Offset of EF.DIR's body ([`DIR_RECORDS`] × [`DIR_RECORD_LEN`] bytes).
pub const DIR_BODY: u16 = 23;
/// Offset of the applet's configuration EF body ([`TRACK_EF_LEN`] bytes).
pub const TRACK_CONFIG_BODY: u16 = 87;
/// Offset of the applet's state EF body ([`TRACK_EF_LEN`] bytes).
pub const TRACK_STATE_BODY: u16 = 151;
/// Offset of the PIN1 record ([`super::pin::RECORD_LEN`] bytes).
pub const PIN1_BODY: u16 = 215;
/// Data-area bytes the file system uses; open the [`Store`] with at least this.
pub const FS_DATA_LEN: usize = 256;
/// A comfortable NVM size for a store holding the file system: data area plus a
/// journal big enough for [`personalise`] in one transaction.
pub const FS_NVM_LEN: usize = 1024;
/// Record length of EF.DIR.
pub const DIR_RECORD_LEN: u8 = 32;
/// Number of records of EF.DIR.
pub const DIR_RECORDS: u8 = 2;
/// Size of each of the applet's EFs.
pub const TRACK_EF_LEN: u16 = 64;

/// The USIM AID used by this card: RID `A000000087`, app code `1002`, then the
/// sysmocom-style tail (osmocom/pysim `EF_DIR` test vector, 01-apdu.md §5).
pub const USIM_AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x07, 0x09, 0x00, 0x00,
];

/// The PIN1 record used by the file system.
pub const PIN1: Pin1 = Pin1::at(PIN1_BODY as usize);

/// Access condition of one operation on a file (TS 102 221 §9.2, reduced to what this
/// card uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// No condition.
    Always,
    /// PIN1 verified (or disabled).
    Pin1,
    /// Never over the interface (ADM in the specs).
    Never,
}

/// EF structure (TS 102 221 §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EfStructure {
    /// Transparent EF of `size` bytes.
    Transparent,
    /// Linear fixed EF of `records` records of `record_len` bytes.
    LinearFixed {
        /// Bytes per record.
        record_len: u8,
        /// Number of records.
        records: u8,
    },
}

/// File type (TS 102 221 §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// The master file.
    Mf,
    /// A dedicated file.
    Df,
    /// An application DF, selected by AID.
    Adf,
    /// An elementary file.
    Ef(EfStructure),
}

/// Static description of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDesc {
    /// File identifier.
    pub fid: u16,
    /// Name as in the specs, for traces.
    pub name: &'static str,
    /// Type and structure.
    pub kind: FileKind,
    /// Parent (index into [`FILES`]); the MF has none; an ADF points at the MF but is
    /// not one of its children.
    pub parent: Option<u8>,
    /// DF name (AID) of an ADF; empty otherwise.
    pub aid: &'static [u8],
    /// Short file identifier (TS 102 221 §8.3), if any.
    pub sfi: Option<u8>,
    /// Body size in bytes (EFs).
    pub size: u16,
    /// Offset of the body in the store (EFs).
    pub body: u16,
    /// READ condition (EFs).
    pub read: Access,
    /// UPDATE condition (EFs).
    pub update: Access,
}

const fn df(fid: u16, name: &'static str, kind: FileKind, parent: Option<u8>) -> FileDesc {
    FileDesc {
        fid,
        name,
        kind,
        parent,
        aid: &[],
        sfi: None,
        size: 0,
        body: 0,
        read: Access::Never,
        update: Access::Never,
    }
}

#[allow(clippy::too_many_arguments)]
const fn ef(
    fid: u16,
    name: &'static str,
    structure: EfStructure,
    parent: u8,
    sfi: Option<u8>,
    size: u16,
    body: u16,
    read: Access,
    update: Access,
) -> FileDesc {
    FileDesc {
        fid,
        name,
        kind: FileKind::Ef(structure),
        parent: Some(parent),
        aid: &[],
        sfi,
        size,
        body,
        read,
        update,
    }
}

const MF: u8 = 0;
const DF_GSM: u8 = 4;
const ADF_USIM: u8 = 7;
const DF_IMEITRACK: u8 = 10;

/// The file tree. Indices are [`FileRef`]s.
pub static FILES: [FileDesc; 13] = [
    df(0x3F00, "MF", FileKind::Mf, None),
    ef(
        0x2F00,
        "EF.DIR",
        EfStructure::LinearFixed {
            record_len: DIR_RECORD_LEN,
            records: DIR_RECORDS,
        },
        MF,
        Some(0x1E),
        DIR_RECORD_LEN as u16 * DIR_RECORDS as u16,
        DIR_BODY,
        Access::Always,
        Access::Never,
    ),
    ef(
        0x2FE2,
        "EF.ICCID",
        EfStructure::Transparent,
        MF,
        Some(0x02),
        10,
        ICCID_BODY,
        Access::Always,
        Access::Never,
    ),
    df(0x7F10, "DF.TELECOM", FileKind::Df, Some(MF)),
    df(0x7F20, "DF.GSM", FileKind::Df, Some(MF)),
    ef(
        0x6F07,
        "EF.IMSI",
        EfStructure::Transparent,
        DF_GSM,
        Some(0x07),
        9,
        IMSI_BODY,
        Access::Pin1,
        Access::Never,
    ),
    ef(
        0x6FAD,
        "EF.AD",
        EfStructure::Transparent,
        DF_GSM,
        Some(0x03),
        4,
        AD_BODY,
        Access::Always,
        Access::Never,
    ),
    FileDesc {
        aid: &USIM_AID,
        ..df(0x7FFF, "ADF.USIM", FileKind::Adf, Some(MF))
    },
    ef(
        0x6F07,
        "EF.IMSI",
        EfStructure::Transparent,
        ADF_USIM,
        Some(0x07),
        9,
        IMSI_BODY,
        Access::Pin1,
        Access::Never,
    ),
    ef(
        0x6FAD,
        "EF.AD",
        EfStructure::Transparent,
        ADF_USIM,
        Some(0x03),
        4,
        AD_BODY,
        Access::Always,
        Access::Never,
    ),
    df(0x7F4A, "DF.IMEITRACK", FileKind::Df, Some(MF)),
    ef(
        0x6F01,
        "EF.TRACK_CONFIG",
        EfStructure::Transparent,
        DF_IMEITRACK,
        None,
        TRACK_EF_LEN,
        TRACK_CONFIG_BODY,
        Access::Pin1,
        Access::Pin1,
    ),
    ef(
        0x6F02,
        "EF.TRACK_STATE",
        EfStructure::Transparent,
        DF_IMEITRACK,
        None,
        TRACK_EF_LEN,
        TRACK_STATE_BODY,
        Access::Pin1,
        Access::Never,
    ),
];

/// A file of [`FILES`], by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileRef(pub u8);

impl FileRef {
    /// The MF.
    pub const MF: Self = Self(MF);
    /// DF.GSM.
    pub const DF_GSM: Self = Self(DF_GSM);
    /// ADF.USIM.
    pub const ADF_USIM: Self = Self(ADF_USIM);
    /// DF.IMEITRACK.
    pub const DF_IMEITRACK: Self = Self(DF_IMEITRACK);
    /// EF.ICCID.
    pub const EF_ICCID: Self = Self(2);
    /// EF.IMSI (under DF.GSM; the ADF.USIM one shares the body).
    pub const EF_IMSI: Self = Self(5);
    /// EF.TRACK_CONFIG.
    pub const EF_TRACK_CONFIG: Self = Self(11);
    /// EF.TRACK_STATE.
    pub const EF_TRACK_STATE: Self = Self(12);

    /// The description; the MF's for an index out of range (cannot happen for refs
    /// handed out by this module).
    pub fn desc(self) -> &'static FileDesc {
        FILES.get(usize::from(self.0)).unwrap_or(&FILES[0])
    }

    fn is_df_like(self) -> bool {
        !matches!(self.desc().kind, FileKind::Ef(_))
    }

    fn parent(self) -> Option<FileRef> {
        self.desc().parent.map(FileRef)
    }

    /// Children of `self` (ADFs are nobody's children).
    fn children(self) -> impl Iterator<Item = FileRef> {
        (0..FILES.len() as u8)
            .map(FileRef)
            .filter(move |f| f.desc().parent == Some(self.0) && f.desc().kind != FileKind::Adf)
    }

    fn child(self, fid: u16) -> Option<FileRef> {
        self.children().find(|f| f.desc().fid == fid)
    }
}

/// The selection state of one logical channel (TS 102 221 §8.4): current DF, EF,
/// application, and record pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    df: FileRef,
    ef: Option<FileRef>,
    adf: Option<FileRef>,
    record: Option<u8>,
}

impl Default for Selection {
    fn default() -> Self {
        Self::new()
    }
}

/// What SELECT should return, from P2 b5..b3 (TS 102 221 §11.1.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectResponse {
    /// P2 `04` (or `00`): the FCP template.
    Fcp,
    /// P2 `0C`: no data.
    NoData,
}

impl Selection {
    /// After reset: MF current, no EF, no application (TS 102 221 §8.4.1).
    pub const fn new() -> Self {
        Self {
            df: FileRef::MF,
            ef: None,
            adf: None,
            record: None,
        }
    }

    /// Current DF (or ADF).
    pub fn current_df(&self) -> FileRef {
        self.df
    }

    /// Current EF, if any.
    pub fn current_ef(&self) -> Option<FileRef> {
        self.ef
    }

    /// Current application, if one was selected.
    pub fn current_adf(&self) -> Option<FileRef> {
        self.adf
    }

    /// The current file: the EF if one is selected, else the DF.
    pub fn current(&self) -> FileRef {
        self.ef.unwrap_or(self.df)
    }

    fn set(&mut self, f: FileRef) {
        if f.is_df_like() {
            self.df = f;
            self.ef = None;
            if f.desc().kind == FileKind::Adf {
                self.adf = Some(f);
            }
        } else {
            self.df = f.parent().unwrap_or(FileRef::MF);
            self.ef = Some(f);
        }
        self.record = None;
    }

    /// SELECT (`00 A4 P1 P2 Lc data`, TS 102 221 §11.1.1; GSM `A0 A4 00 00 02 fid`).
    /// On success the selection changes and the selected file is returned together
    /// with what P2 asks for; on error the selection is unchanged.
    ///
    /// P1: `00` FID, `01` child DF, `03` parent DF (no data), `04` AID, `08` path from
    /// MF, `09` path from current DF; others → [`CardError::IncorrectP1P2`]. P2 b5..b3
    /// `000`/`001` → FCP, `011` → no data; b2..b1 occurrence `00` first or `10` next
    /// (AID only, there is one application so "next" → [`CardError::FileNotFound`]).
    /// Wrong data length → [`CardError::WrongLength`].
    pub fn select(
        &mut self,
        p1: u8,
        p2: u8,
        data: &[u8],
    ) -> Result<(FileRef, SelectResponse), CardError> {
        let response = match p2 & 0x1C {
            0x00 | 0x04 => SelectResponse::Fcp,
            0x0C => SelectResponse::NoData,
            _ => return Err(CardError::IncorrectP1P2),
        };
        let occurrence = p2 & 0x03;
        if p2 & 0xE0 != 0 || (occurrence != 0 && (p1 != 0x04 || occurrence != 0x02)) {
            return Err(CardError::IncorrectP1P2);
        }
        let f = match p1 {
            0x00 => self.select_fid(fid_of(data)?)?,
            0x01 => self.select_child_df(fid_of(data)?)?,
            0x03 => {
                if !data.is_empty() {
                    return Err(CardError::WrongLength);
                }
                self.select_parent()?
            }
            0x04 => self.select_aid(data, occurrence == 0x02)?,
            0x08 => self.select_path(data, true)?,
            0x09 => self.select_path(data, false)?,
            _ => return Err(CardError::IncorrectP1P2),
        };
        Ok((f, response))
    }

    /// Resolves `fid` from the current DF (TS 102 221 §8.4.1): the MF, the current
    /// ADF as `7FFF`, the current DF, its children, its parent, and the parent's child
    /// DFs (siblings).
    fn resolve_fid(&self, fid: u16) -> Option<FileRef> {
        if fid == 0x3F00 {
            return Some(FileRef::MF);
        }
        if fid == 0x7FFF {
            return self.adf;
        }
        let cur = self.df;
        if cur.desc().fid == fid && cur.desc().kind != FileKind::Adf {
            return Some(cur);
        }
        if let Some(f) = cur.child(fid) {
            return Some(f);
        }
        let parent = cur.parent()?;
        if cur.desc().kind == FileKind::Adf {
            return None;
        }
        if parent.desc().fid == fid {
            return Some(parent);
        }
        parent.child(fid).filter(|f| f.is_df_like())
    }

    /// SELECT by FID (P1 `00`), TS 102 221 §8.4.1 / TS 51.011 §8.1.
    pub fn select_fid(&mut self, fid: u16) -> Result<FileRef, CardError> {
        let f = self.resolve_fid(fid).ok_or(CardError::FileNotFound)?;
        self.set(f);
        Ok(f)
    }

    /// SELECT child DF of the current DF (P1 `01`).
    pub fn select_child_df(&mut self, fid: u16) -> Result<FileRef, CardError> {
        let f = self
            .df
            .child(fid)
            .filter(|f| f.is_df_like())
            .ok_or(CardError::FileNotFound)?;
        self.set(f);
        Ok(f)
    }

    /// SELECT parent DF of the current DF (P1 `03`); the MF's parent is the MF, and an
    /// ADF's parent is the MF.
    pub fn select_parent(&mut self) -> Result<FileRef, CardError> {
        let f = self.df.parent().unwrap_or(FileRef::MF);
        self.set(f);
        Ok(f)
    }

    /// SELECT by DF name (P1 `04`): `aid` (1..=16 bytes) is a prefix of an application's
    /// AID (partial selection, ISO/IEC 7816-4 §7.1.1). `next` asks for the next
    /// occurrence, which does not exist on this card.
    pub fn select_aid(&mut self, aid: &[u8], next: bool) -> Result<FileRef, CardError> {
        if aid.is_empty() || aid.len() > 16 {
            return Err(CardError::WrongLength);
        }
        if next {
            return Err(CardError::FileNotFound);
        }
        let f = (0..FILES.len() as u8)
            .map(FileRef)
            .find(|f| f.desc().kind == FileKind::Adf && f.desc().aid.starts_with(aid))
            .ok_or(CardError::FileNotFound)?;
        self.set(f);
        Ok(f)
    }

    /// SELECT by path (P1 `08` from the MF, without `3F00`; P1 `09` from the current
    /// DF). `7FFF` as first element means the current ADF (TS 102 221 §8.4.2). Every
    /// element but the last must be a DF.
    pub fn select_path(&mut self, path: &[u8], from_mf: bool) -> Result<FileRef, CardError> {
        if path.is_empty() || !path.len().is_multiple_of(2) {
            return Err(CardError::WrongLength);
        }
        let mut cur = if from_mf { FileRef::MF } else { self.df };
        for (i, pair) in path.chunks_exact(2).enumerate() {
            let fid = match pair {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                _ => return Err(CardError::WrongLength),
            };
            if !cur.is_df_like() {
                return Err(CardError::FileNotFound);
            }
            cur = if i == 0 && fid == 0x7FFF {
                self.adf.ok_or(CardError::FileNotFound)?
            } else {
                cur.child(fid).ok_or(CardError::FileNotFound)?
            };
        }
        self.set(cur);
        Ok(cur)
    }

    /// The current EF, or with `sfi` (1..=30) the EF with that SFI among the current
    /// DF's children, which then becomes current (TS 102 221 §8.3).
    fn ef_for(&mut self, sfi: Option<u8>) -> Result<FileRef, CardError> {
        match sfi {
            None => self.ef.ok_or(CardError::NoEfSelected),
            Some(0) | Some(31..) => Err(CardError::IncorrectP1P2),
            Some(s) => {
                let f = self
                    .df
                    .children()
                    .find(|f| f.desc().sfi == Some(s))
                    .ok_or(CardError::FileNotFound)?;
                self.set(f);
                Ok(f)
            }
        }
    }

    /// READ BINARY (`00 B0 P1 P2 Le`, TS 102 221 §11.1.3). P1 b8 = 1: SFI in P1 b5..b1
    /// and offset P2; else offset (P1 & 7F) << 8 | P2 in the current EF. `ne` is the
    /// decoded Le (1..=256). Writes up to `ne` bytes into `out` and returns their count
    /// with `9000`, or with `6282` when the EF ended first.
    ///
    /// Errors: no current EF → `6986`; not transparent → `6981`; offset ≥ size →
    /// `6B00`; access → `6982`; `out` too small → `6F00`.
    pub fn read_binary<const N: usize>(
        &mut self,
        store: &Store<N>,
        session: &PinSession,
        p1: u8,
        p2: u8,
        ne: usize,
        out: &mut [u8],
    ) -> Result<(usize, StatusWord), CardError> {
        let (f, offset) = self.binary_target(p1, p2)?;
        let d = f.desc();
        check_access(store, session, d.read)?;
        let size = usize::from(d.size);
        if offset >= size {
            return Err(CardError::OffsetOutOfRange);
        }
        let n = ne.min(size - offset);
        let dst = out.get_mut(..n).ok_or(CardError::Internal)?;
        store.read(usize::from(d.body) + offset, dst)?;
        let sw = if n < ne {
            StatusWord::END_OF_FILE
        } else {
            StatusWord::OK
        };
        Ok((n, sw))
    }

    fn binary_target(&mut self, p1: u8, p2: u8) -> Result<(FileRef, usize), CardError> {
        let (sfi, offset) = if p1 & 0x80 != 0 {
            if p1 & 0x60 != 0 {
                return Err(CardError::IncorrectP1P2);
            }
            (Some(p1 & 0x1F), usize::from(p2))
        } else {
            (None, usize::from(u16::from_be_bytes([p1 & 0x7F, p2])))
        };
        let f = self.ef_for(sfi)?;
        if f.desc().kind != FileKind::Ef(EfStructure::Transparent) {
            return Err(CardError::IncompatibleFileStructure);
        }
        Ok((f, offset))
    }

    /// UPDATE BINARY (`00 D6 P1 P2 Lc data`, TS 102 221 §11.1.4), P1/P2 as in
    /// [`Self::read_binary`]. The write is one atomic store transaction.
    ///
    /// Errors: empty data → `6700`; offset ≥ size → `6B00`; offset + Lc > size →
    /// `6700`; plus those of READ BINARY; NVM failure → `6581`.
    pub fn update_binary<const N: usize>(
        &mut self,
        store: &mut Store<N>,
        session: &PinSession,
        p1: u8,
        p2: u8,
        data: &[u8],
    ) -> Result<(), CardError> {
        let (f, offset) = self.binary_target(p1, p2)?;
        let d = f.desc();
        check_access(store, session, d.update)?;
        if data.is_empty() {
            return Err(CardError::WrongLength);
        }
        let size = usize::from(d.size);
        if offset >= size {
            return Err(CardError::OffsetOutOfRange);
        }
        if offset + data.len() > size {
            return Err(CardError::WrongLength);
        }
        store.write_atomic(usize::from(d.body) + offset, data)?;
        Ok(())
    }

    /// READ RECORD (`00 B2 P1 P2 Le`, TS 102 221 §11.1.5). P2 b8..b4 = SFI (0 = current
    /// EF); P2 b3..b1: `100` absolute (record P1), `010` next, `011` previous (P1 = 00).
    /// `ne` must be the record length (or 256 = "whole record"), else
    /// [`CardError::WrongLe`] (`6Cxx`).
    ///
    /// Errors: not linear fixed → `6981`; record 0 / beyond → `6A83`; bad mode →
    /// `6A86`; access → `6982`.
    pub fn read_record<const N: usize>(
        &mut self,
        store: &Store<N>,
        session: &PinSession,
        p1: u8,
        p2: u8,
        ne: usize,
        out: &mut [u8],
    ) -> Result<usize, CardError> {
        let sfi = p2 >> 3;
        let f = self.ef_for(if sfi == 0 { None } else { Some(sfi) })?;
        let d = f.desc();
        let FileKind::Ef(EfStructure::LinearFixed {
            record_len,
            records,
        }) = d.kind
        else {
            return Err(CardError::IncompatibleFileStructure);
        };
        check_access(store, session, d.read)?;
        let number = match (p2 & 0x07, p1) {
            (0x04, 0) => return Err(CardError::RecordNotFound),
            (0x04, n) => n,
            (0x02, 0) => self.record.map_or(1, |r| r.saturating_add(1)),
            (0x03, 0) => self.record.map_or(records, |r| r.saturating_sub(1)),
            _ => return Err(CardError::IncorrectP1P2),
        };
        if number == 0 || number > records {
            return Err(CardError::RecordNotFound);
        }
        let rl = usize::from(record_len);
        if ne != rl && ne != 256 {
            return Err(CardError::WrongLe(record_len));
        }
        let dst = out.get_mut(..rl).ok_or(CardError::Internal)?;
        store.read(usize::from(d.body) + rl * usize::from(number - 1), dst)?;
        self.record = Some(number);
        Ok(rl)
    }

    /// STATUS (`80 F2 P1 P2 Le`, TS 102 221 §11.1.2): P1 `00`/`01`/`02` (application
    /// status indication, accepted and ignored); P2 `00` FCP of the current DF/ADF,
    /// `01` its DF name TLV (`84 L AID`, ADF only), `0C` no data. Returns the bytes
    /// written into `out`.
    pub fn status<const N: usize>(
        &self,
        store: &Store<N>,
        p1: u8,
        p2: u8,
        out: &mut [u8],
    ) -> Result<usize, CardError> {
        if p1 > 0x02 {
            return Err(CardError::IncorrectP1P2);
        }
        match p2 {
            0x00 => fcp(self.df, store, out),
            0x01 => {
                let aid = self.df.desc().aid;
                if aid.is_empty() {
                    return Err(CardError::IncorrectP1P2);
                }
                let mut w = Out::new(out);
                w.tlv(0x84, aid)?;
                Ok(w.pos)
            }
            0x0C => Ok(0),
            _ => Err(CardError::IncorrectP1P2),
        }
    }
}

fn fid_of(data: &[u8]) -> Result<u16, CardError> {
    match data {
        [hi, lo] => Ok(u16::from_be_bytes([*hi, *lo])),
        _ => Err(CardError::WrongLength),
    }
}

fn check_access<const N: usize>(
    store: &Store<N>,
    session: &PinSession,
    access: Access,
) -> Result<(), CardError> {
    match access {
        Access::Always => Ok(()),
        Access::Pin1 if PIN1.satisfied(store, session)? => Ok(()),
        Access::Pin1 | Access::Never => Err(CardError::SecurityStatusNotSatisfied),
    }
}

/// Reads `buf.len()` bytes at `offset` of `file`'s body, bypassing access conditions
/// (for the card's own use, e.g. the applet reading EF.IMSI).
pub fn read_body<const N: usize>(
    store: &Store<N>,
    file: FileRef,
    offset: usize,
    buf: &mut [u8],
) -> Result<(), CardError> {
    let d = file.desc();
    if offset + buf.len() > usize::from(d.size) {
        return Err(CardError::OffsetOutOfRange);
    }
    store.read(usize::from(d.body) + offset, buf)?;
    Ok(())
}

/// Writes `bytes` at `offset` of `file`'s body into the store's open transaction,
/// bypassing access conditions (for the card's own use). The caller commits.
pub fn write_body<const N: usize>(
    store: &mut Store<N>,
    file: FileRef,
    offset: usize,
    bytes: &[u8],
) -> Result<(), CardError> {
    let d = file.desc();
    if offset + bytes.len() > usize::from(d.size) {
        return Err(CardError::OffsetOutOfRange);
    }
    store.write(usize::from(d.body) + offset, bytes)?;
    Ok(())
}

/// Card contents written at personalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Personalisation {
    /// EF.ICCID body: swapped-nibble BCD, `F` padded (01-apdu.md §3).
    pub iccid: [u8; 10],
    /// EF.IMSI body: length byte + TS 24.008 mobile identity (01-apdu.md §5).
    pub imsi: [u8; 9],
    /// EF.AD body (TS 31.102 §4.2.18): UE operation mode, 2 bytes additional info,
    /// length of MNC in the IMSI.
    pub ad: [u8; 4],
    /// PIN1, ASCII padded with `FF`.
    pub pin1: [u8; PIN_LEN],
    /// Whether PIN1 is enabled.
    pub pin1_enabled: bool,
}

/// The EF.DIR record for the USIM application (TS 102 221 §13.1): `61 L 4F 10 <AID>
/// 50 04 "USIM"`, padded with `FF` to [`DIR_RECORD_LEN`].
pub fn usim_dir_record() -> [u8; DIR_RECORD_LEN as usize] {
    let mut r = [0xFF; DIR_RECORD_LEN as usize];
    let head = [0x61, 0x18, 0x4F, 0x10];
    r[..4].copy_from_slice(&head);
    r[4..20].copy_from_slice(&USIM_AID);
    r[20..26].copy_from_slice(&[0x50, 0x04, b'U', b'S', b'I', b'M']);
    r
}

/// Writes every file body and the PIN1 record in one transaction (begin … commit).
/// The applet EFs start as all `FF`.
pub fn personalise<const N: usize>(
    store: &mut Store<N>,
    p: &Personalisation,
) -> Result<(), CardError> {
    store.begin()?;
    let r = (|| {
        store.write(usize::from(ICCID_BODY), &p.iccid)?;
        store.write(usize::from(IMSI_BODY), &p.imsi)?;
        store.write(usize::from(AD_BODY), &p.ad)?;
        store.write(usize::from(DIR_BODY), &usim_dir_record())?;
        store.write(
            usize::from(DIR_BODY) + usize::from(DIR_RECORD_LEN),
            &[0xFF; DIR_RECORD_LEN as usize],
        )?;
        store.write(
            usize::from(TRACK_CONFIG_BODY),
            &[0xFF; TRACK_EF_LEN as usize],
        )?;
        store.write(
            usize::from(TRACK_STATE_BODY),
            &[0xFF; TRACK_EF_LEN as usize],
        )?;
        PIN1.personalise(store, p.pin1, p.pin1_enabled)
    })();
    match r {
        Ok(()) => Ok(store.commit()?),
        Err(e) => {
            store.abort();
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

struct Out<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Out<'b> {
    fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CardError> {
        let end = self.pos + bytes.len();
        self.buf
            .get_mut(self.pos..end)
            .ok_or(CardError::Internal)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// BER-TLV with a one-byte tag and a short-form length (< 128).
    fn tlv(&mut self, tag: u8, value: &[u8]) -> Result<(), CardError> {
        let len = u8::try_from(value.len())
            .ok()
            .filter(|l| *l < 0x80)
            .ok_or(CardError::Internal)?;
        self.put(&[tag, len])?;
        self.put(value)
    }
}

/// Security condition DO for an access condition (TS 102 221 §9.5.x, ISO/IEC 7816-4
/// §9.3.4 expanded format): `90 00` always, `97 00` never, `A4 06 83 01 01 95 01 08`
/// user authentication with PIN1.
fn sc_do(a: Access) -> &'static [u8] {
    match a {
        Access::Always => &[0x90, 0x00],
        Access::Never => &[0x97, 0x00],
        Access::Pin1 => &[0xA4, 0x06, 0x83, 0x01, 0x01, 0x95, 0x01, 0x08],
    }
}

/// Writes the FCP template of `file` (TS 102 221 §11.1.1.3): tag `62` with
/// `82` file descriptor, `83` FID, `84` DF name (ADF), `8A` life cycle `05`
/// (operational, activated), `AB` expanded security attributes (access mode
/// `80 01 AM` + condition; READ = b1, UPDATE = b2 for EFs; all DF operations `7F`
/// never for DFs), `C6` PIN status template (DFs: PS_DO `80` when PIN1 enabled, key
/// reference `01`), `80` file size (EFs), `88` SFI (EFs with one).
pub fn fcp<const N: usize>(
    file: FileRef,
    store: &Store<N>,
    out: &mut [u8],
) -> Result<usize, CardError> {
    let d = file.desc();
    let mut body = [0u8; 112];
    let mut w = Out::new(&mut body);
    match d.kind {
        FileKind::Ef(s) => {
            match s {
                EfStructure::Transparent => w.tlv(0x82, &[0x41, 0x21])?,
                EfStructure::LinearFixed {
                    record_len,
                    records,
                } => w.tlv(0x82, &[0x42, 0x21, 0x00, record_len, records])?,
            }
            w.tlv(0x83, &d.fid.to_be_bytes())?;
            w.tlv(0x8A, &[0x05])?;
            let mut sec = [0u8; 32];
            let mut s = Out::new(&mut sec);
            if d.read == d.update {
                s.put(&[0x80, 0x01, 0x03])?;
                s.put(sc_do(d.read))?;
            } else {
                s.put(&[0x80, 0x01, 0x01])?;
                s.put(sc_do(d.read))?;
                s.put(&[0x80, 0x01, 0x02])?;
                s.put(sc_do(d.update))?;
            }
            let n = s.pos;
            w.tlv(0xAB, sec.get(..n).ok_or(CardError::Internal)?)?;
            w.tlv(0x80, &d.size.to_be_bytes())?;
            if let Some(sfi) = d.sfi {
                w.tlv(0x88, &[sfi << 3])?;
            }
        }
        FileKind::Mf | FileKind::Df | FileKind::Adf => {
            w.tlv(0x82, &[0x78, 0x21])?;
            w.tlv(0x83, &d.fid.to_be_bytes())?;
            if !d.aid.is_empty() {
                w.tlv(0x84, d.aid)?;
            }
            w.tlv(0x8A, &[0x05])?;
            w.tlv(0xAB, &[0x80, 0x01, 0x7F, 0x97, 0x00])?;
            let ps = if PIN1.is_enabled(store)? { 0x80 } else { 0x00 };
            w.tlv(0xC6, &[0x90, 0x01, ps, 0x83, 0x01, 0x01])?;
        }
    }
    let n = w.pos;
    let mut o = Out::new(out);
    o.tlv(0x62, body.get(..n).ok_or(CardError::Internal)?)?;
    Ok(o.pos)
}

/// GSM access-condition nibble (TS 51.011 §9.3): 0 ALW, 1 CHV1, F NEV.
fn gsm_ac(a: Access) -> u8 {
    match a {
        Access::Always => 0x0,
        Access::Pin1 => 0x1,
        Access::Never => 0xF,
    }
}

/// Writes the GSM SIM response to SELECT / GET RESPONSE (TS 51.011 §9.2.1):
/// 23 bytes for the MF / a DF (RFU, free memory `0000`, FID, type, RFU, `0A`, file
/// characteristics (b2 set as in real cards, b8 = CHV1 disabled), child DF / EF
/// counts, 1 secret code, RFU, CHV1 status `80 | retries`, then unblock / CHV2 `00`),
/// 15 bytes for an EF (size, FID, type `04`, access conditions, status `01`, `02`,
/// structure `00`/`01`, record length). An ADF answers like a DF.
pub fn gsm_response<const N: usize>(
    file: FileRef,
    store: &Store<N>,
    out: &mut [u8],
) -> Result<usize, CardError> {
    let d = file.desc();
    let mut w = Out::new(out);
    let fid = d.fid.to_be_bytes();
    match d.kind {
        FileKind::Ef(s) => {
            let (structure, rl) = match s {
                EfStructure::Transparent => (0x00, 0x00),
                EfStructure::LinearFixed { record_len, .. } => (0x01, record_len),
            };
            let size = d.size.to_be_bytes();
            w.put(&[0x00, 0x00, size[0], size[1], fid[0], fid[1], 0x04, 0x00])?;
            w.put(&[(gsm_ac(d.read) << 4) | gsm_ac(d.update), 0xFF, 0xFF])?;
            w.put(&[0x01, 0x02, structure, rl])?;
        }
        FileKind::Mf | FileKind::Df | FileKind::Adf => {
            let kind = if d.kind == FileKind::Mf { 0x01 } else { 0x02 };
            let dfs = file.children().filter(|f| f.is_df_like()).count() as u8;
            let efs = file.children().filter(|f| !f.is_df_like()).count() as u8;
            let enabled = PIN1.is_enabled(store)?;
            let retries = PIN1.retries(store)?.min(MAX_TRIES);
            let chars = 0x02 | if enabled { 0x00 } else { 0x80 };
            w.put(&[0x00, 0x00, 0x00, 0x00, fid[0], fid[1], kind])?;
            w.put(&[0x00; 5])?;
            w.put(&[0x0A, chars, dfs, efs, 0x01, 0x00, 0x80 | retries])?;
            w.put(&[0x00, 0x00, 0x00, 0x00])?;
        }
    }
    Ok(w.pos)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::card::nvm::Nvm;
    use crate::card::pin::pad_pin;
    use proptest::prelude::*;

    type S = Store<FS_NVM_LEN>;

    /// EF.ICCID body of 8988211000000430010 (01-apdu.md §3, pySim EF_ICCID vector).
    const ICCID: [u8; 10] = [0x98, 0x88, 0x12, 0x01, 0x00, 0x00, 0x40, 0x03, 0x10, 0xF0];
    /// EF.IMSI body of 001010123456789 (01-apdu.md §5, pySim enc_imsi vector).
    const IMSI: [u8; 9] = [0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98];

    fn card(pin_enabled: bool) -> S {
        let mut s = Store::open(Nvm::new(), FS_DATA_LEN).unwrap();
        personalise(
            &mut s,
            &Personalisation {
                iccid: ICCID,
                imsi: IMSI,
                ad: [0x00, 0x00, 0x00, 0x02],
                pin1: pad_pin(b"1234").unwrap(),
                pin1_enabled: pin_enabled,
            },
        )
        .unwrap();
        s
    }

    fn verify(s: &mut S, sess: &mut PinSession) {
        let pin = pad_pin(b"1234").unwrap();
        assert_eq!(PIN1.verify(s, sess, 0, 1, &pin), Ok(StatusWord::OK));
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn uicc_select_mf_and_read_iccid() {
        // 00 A4 00 04 02 3F 00 / 00 A4 00 04 02 2F E2 / 00 B0 00 00 0A (01-apdu.md §3).
        let s = card(true);
        let mut sel = Selection::new();
        let (f, resp) = sel.select(0x00, 0x04, &[0x3F, 0x00]).unwrap();
        assert_eq!((f, resp), (FileRef::MF, SelectResponse::Fcp));
        let mut out = [0u8; 128];
        let n = fcp(f, &s, &mut out).unwrap();
        assert_eq!(out[0], 0x62);
        assert_eq!(usize::from(out[1]) + 2, n);
        assert!(contains(
            &out[..n],
            &[0x82, 0x02, 0x78, 0x21, 0x83, 0x02, 0x3F, 0x00]
        ));
        assert!(contains(
            &out[..n],
            &[0xC6, 0x06, 0x90, 0x01, 0x80, 0x83, 0x01, 0x01]
        ));

        let (f, _) = sel.select(0x00, 0x04, &[0x2F, 0xE2]).unwrap();
        let n = fcp(f, &s, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[
                0x62, 0x1E, 0x82, 0x02, 0x41, 0x21, 0x83, 0x02, 0x2F, 0xE2, 0x8A, 0x01, 0x05, 0xAB,
                0x0A, 0x80, 0x01, 0x01, 0x90, 0x00, 0x80, 0x01, 0x02, 0x97, 0x00, 0x80, 0x02, 0x00,
                0x0A, 0x88, 0x01, 0x10
            ][..]
        );
        let r = sel
            .read_binary(&s, &PinSession::default(), 0, 0, 10, &mut out)
            .unwrap();
        assert_eq!(r, (10, StatusWord::OK));
        assert_eq!(&out[..10], &ICCID);
    }

    #[test]
    fn gsm_select_df_gsm_and_read_imsi() {
        // A0 A4 00 00 02 7F 20 -> 9F 17; A0 A4 00 00 02 6F 07 -> 9F 0F (01-apdu.md §3).
        let mut s = card(true);
        let mut sel = Selection::new();
        let (f, _) = sel.select(0x00, 0x00, &[0x7F, 0x20]).unwrap();
        let mut out = [0u8; 64];
        let n = gsm_response(f, &s, &mut out).unwrap();
        assert_eq!(n, 0x17);
        // Same layout as the real card's 23 bytes (swsim issue #6): FID, type 02, 0A,
        // CHV1 status 8x; counts and characteristics are this card's own.
        assert_eq!(
            &out[..n],
            &[
                0x00, 0x00, 0x00, 0x00, 0x7F, 0x20, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x02,
                0x00, 0x02, 0x01, 0x00, 0x83, 0x00, 0x00, 0x00, 0x00
            ][..]
        );
        let (f, _) = sel.select(0x00, 0x00, &[0x6F, 0x07]).unwrap();
        let n = gsm_response(f, &s, &mut out).unwrap();
        assert_eq!(n, 0x0F);
        assert_eq!(
            &out[..n],
            &[
                0x00, 0x00, 0x00, 0x09, 0x6F, 0x07, 0x04, 0x00, 0x1F, 0xFF, 0xFF, 0x01, 0x02, 0x00,
                0x00
            ][..]
        );
        let mut sess = PinSession::default();
        let e = sel.read_binary(&s, &sess, 0, 0, 9, &mut out).unwrap_err();
        assert_eq!(e, CardError::SecurityStatusNotSatisfied);
        assert_eq!(e.gsm_status_word(), StatusWord(0x9804));
        verify(&mut s, &mut sess);
        assert_eq!(
            sel.read_binary(&s, &sess, 0, 0, 9, &mut out),
            Ok((9, StatusWord::OK))
        );
        assert_eq!(&out[..9], &IMSI);
        // A disabled PIN1 means the condition is met without VERIFY.
        let s2 = card(false);
        assert!(
            sel.read_binary(&s2, &PinSession::default(), 0, 0, 9, &mut out)
                .is_ok()
        );
    }

    #[test]
    fn select_by_aid_partial_and_sfi_read() {
        let s = card(false);
        let mut sel = Selection::new();
        // RID + app code prefix (01-apdu.md §5).
        let (f, _) = sel
            .select(0x04, 0x04, &[0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02])
            .unwrap();
        assert_eq!(f, FileRef::ADF_USIM);
        assert_eq!(sel.current_adf(), Some(FileRef::ADF_USIM));
        let mut out = [0u8; 128];
        let n = fcp(f, &s, &mut out).unwrap();
        let mut aid_tlv = std::vec![0x84, 0x10];
        aid_tlv.extend_from_slice(&USIM_AID);
        assert!(contains(&out[..n], &aid_tlv));
        // Full AID also works; "next occurrence" does not exist.
        assert!(sel.select(0x04, 0x04, &USIM_AID).is_ok());
        assert_eq!(
            sel.select(0x04, 0x06, &USIM_AID),
            Err(CardError::FileNotFound)
        );
        assert_eq!(
            sel.select(0x04, 0x04, &[0xA0, 0x01]),
            Err(CardError::FileNotFound)
        );
        // STATUS P2 01: DF name; P2 00: FCP; 0C nothing.
        let n = sel.status(&s, 0, 0x01, &mut out).unwrap();
        assert_eq!(&out[..n], &aid_tlv[..]);
        assert_eq!(sel.status(&s, 0, 0x0C, &mut out), Ok(0));
        assert_eq!(out[0], 0x84);
        // READ BINARY by SFI 07 (EF.IMSI) in the ADF: P1 = 80 | 07.
        let r = sel
            .read_binary(&s, &PinSession::default(), 0x87, 0, 9, &mut out)
            .unwrap();
        assert_eq!(r, (9, StatusWord::OK));
        assert_eq!(&out[..9], &IMSI);
        assert_eq!(sel.current_ef().map(|f| f.desc().fid), Some(0x6F07));
        assert_eq!(sel.current_df(), FileRef::ADF_USIM);
        // 7FFF = current ADF, from anywhere.
        sel.select_fid(0x3F00).unwrap();
        assert_eq!(sel.select_fid(0x7FFF), Ok(FileRef::ADF_USIM));
        assert_eq!(
            sel.select(0x08, 0x04, &[0x7F, 0xFF, 0x6F, 0xAD])
                .map(|(f, _)| f.desc().fid),
            Ok(0x6FAD)
        );
    }

    #[test]
    fn path_parent_and_sibling_selection() {
        let mut sel = Selection::new();
        let (f, r) = sel.select(0x08, 0x0C, &[0x7F, 0x20, 0x6F, 0x07]).unwrap();
        assert_eq!((f, r), (FileRef::EF_IMSI, SelectResponse::NoData));
        assert_eq!(sel.current_df(), FileRef::DF_GSM);
        // Sibling DF from DF.GSM, parent, relative path.
        assert_eq!(
            sel.select_fid(0x7F10).map(|f| f.desc().name),
            Ok("DF.TELECOM")
        );
        assert_eq!(sel.select(0x03, 0x0C, &[]).map(|x| x.0), Ok(FileRef::MF));
        assert_eq!(
            sel.select(0x09, 0x04, &[0x7F, 0x4A, 0x6F, 0x01])
                .map(|x| x.0),
            Ok(FileRef::EF_TRACK_CONFIG)
        );
        assert_eq!(
            sel.select(0x01, 0x04, &[0x6F, 0x02]),
            Err(CardError::FileNotFound)
        );
        sel.select_fid(0x3F00).unwrap();
        assert_eq!(
            sel.select(0x01, 0x04, &[0x7F, 0x20]).map(|x| x.0),
            Ok(FileRef::DF_GSM)
        );
        // Failed selections leave the state unchanged.
        let before = sel;
        assert_eq!(
            sel.select(0x00, 0x04, &[0x2F, 0xE2]),
            Err(CardError::FileNotFound)
        );
        assert_eq!(
            sel.select(0x08, 0x04, &[0x2F, 0xE2, 0x6F, 0x07]),
            Err(CardError::FileNotFound)
        );
        assert_eq!(sel.select(0x08, 0x04, &[0x7F]), Err(CardError::WrongLength));
        assert_eq!(
            sel.select(0x00, 0x04, &[0x7F, 0x20, 0x00]),
            Err(CardError::WrongLength)
        );
        assert_eq!(
            sel.select(0x02, 0x04, &[0x7F, 0x20]),
            Err(CardError::IncorrectP1P2)
        );
        assert_eq!(
            sel.select(0x00, 0x14, &[0x7F, 0x20]),
            Err(CardError::IncorrectP1P2)
        );
        assert_eq!(sel.select_fid(0x7FFF), Err(CardError::FileNotFound));
        assert_eq!(sel, before);
        assert_eq!(
            StatusWord::from(CardError::FileNotFound),
            StatusWord(0x6A82)
        );
        assert_eq!(
            CardError::FileNotFound.gsm_status_word(),
            StatusWord(0x9404)
        );
    }

    #[test]
    fn read_binary_errors_and_end_of_file() {
        let s = card(false);
        let sess = PinSession::default();
        let mut sel = Selection::new();
        let mut out = [0u8; 300];
        assert_eq!(
            sel.read_binary(&s, &sess, 0, 0, 10, &mut out),
            Err(CardError::NoEfSelected)
        );
        assert_eq!(
            StatusWord::from(CardError::NoEfSelected),
            StatusWord(0x6986)
        );
        sel.select_fid(0x2F00).unwrap();
        assert_eq!(
            sel.read_binary(&s, &sess, 0, 0, 10, &mut out),
            Err(CardError::IncompatibleFileStructure)
        );
        sel.select_fid(0x2FE2).unwrap();
        assert_eq!(
            sel.read_binary(&s, &sess, 0, 10, 1, &mut out),
            Err(CardError::OffsetOutOfRange)
        );
        assert_eq!(
            StatusWord::from(CardError::OffsetOutOfRange),
            StatusWord(0x6B00)
        );
        assert_eq!(
            sel.read_binary(&s, &sess, 0, 8, 10, &mut out),
            Ok((2, StatusWord::END_OF_FILE))
        );
        assert_eq!(&out[..2], &ICCID[8..]);
        // SFI 02 from the MF; unknown SFI; SFI 0 invalid.
        sel.select_fid(0x3F00).unwrap();
        assert_eq!(
            sel.read_binary(&s, &sess, 0x82, 0, 10, &mut out),
            Ok((10, StatusWord::OK))
        );
        assert_eq!(
            sel.read_binary(&s, &sess, 0x85, 0, 10, &mut out),
            Err(CardError::FileNotFound)
        );
        assert_eq!(
            sel.read_binary(&s, &sess, 0x80, 0, 10, &mut out),
            Err(CardError::IncorrectP1P2)
        );
    }

    #[test]
    fn update_binary_access_and_atomicity() {
        let mut s = card(true);
        let mut sess = PinSession::default();
        let mut sel = Selection::new();
        sel.select(0x08, 0x04, &[0x7F, 0x4A, 0x6F, 0x01]).unwrap();
        assert_eq!(
            sel.update_binary(&mut s, &sess, 0, 0, &[1, 2, 3]),
            Err(CardError::SecurityStatusNotSatisfied)
        );
        verify(&mut s, &mut sess);
        sel.update_binary(&mut s, &sess, 0, 4, &[1, 2, 3]).unwrap();
        let mut out = [0u8; 8];
        assert_eq!(
            sel.read_binary(&s, &sess, 0, 3, 5, &mut out),
            Ok((5, StatusWord::OK))
        );
        assert_eq!(&out[..5], &[0xFF, 1, 2, 3, 0xFF]);
        assert_eq!(
            sel.update_binary(&mut s, &sess, 0, 62, &[1, 2, 3]),
            Err(CardError::WrongLength)
        );
        assert_eq!(
            sel.update_binary(&mut s, &sess, 0, 64, &[1]),
            Err(CardError::OffsetOutOfRange)
        );
        assert_eq!(
            sel.update_binary(&mut s, &sess, 0, 0, &[]),
            Err(CardError::WrongLength)
        );
        // Never-updatable files.
        sel.select_fid(0x6F02).unwrap();
        assert_eq!(
            sel.update_binary(&mut s, &sess, 0, 0, &[1]),
            Err(CardError::SecurityStatusNotSatisfied)
        );
        // Power cut at every write of an UPDATE BINARY: old or new after restart.
        sel.select_fid(0x6F01).unwrap();
        let new = [0xA5u8; 40];
        let old = s.committed().to_vec();
        let mut total = 0;
        for k in 0..16u32 {
            let mut c = s.clone();
            let w = c.nvm().writes();
            c.nvm_mut().cut_power_at(w + k, 3);
            let r = sel.update_binary(&mut c, &sess, 0, 10, &new);
            let mut nvm = c.into_nvm();
            nvm.power_on();
            let c = Store::<FS_NVM_LEN>::open(nvm, FS_DATA_LEN).unwrap();
            let body = &c.committed()[usize::from(TRACK_CONFIG_BODY) + 10..][..40];
            assert!(body == &new[..] || c.committed() == &old[..], "cut at {k}");
            if r.is_ok() {
                assert_eq!(body, &new[..]);
                total += 1;
            }
        }
        assert!(total > 0, "some cut index is past the last write");
    }

    #[test]
    fn read_record_ef_dir() {
        let s = card(true);
        let sess = PinSession::default();
        let mut sel = Selection::new();
        let mut out = [0u8; 64];
        // SFI 1E, absolute record 1: 00 B2 01 F4 20.
        assert_eq!(sel.read_record(&s, &sess, 1, 0xF4, 32, &mut out), Ok(32));
        assert_eq!(&out[..32], &usim_dir_record());
        assert_eq!(&out[..6], &[0x61, 0x18, 0x4F, 0x10, 0xA0, 0x00]);
        assert_eq!(&out[20..26], b"\x50\x04USIM");
        // Current EF now EF.DIR: next -> record 2, previous -> record 1.
        assert_eq!(sel.read_record(&s, &sess, 0, 0x02, 32, &mut out), Ok(32));
        assert_eq!(&out[..32], &[0xFF; 32]);
        assert_eq!(sel.read_record(&s, &sess, 0, 0x03, 32, &mut out), Ok(32));
        assert_eq!(out[0], 0x61);
        assert_eq!(
            sel.read_record(&s, &sess, 3, 0x04, 32, &mut out),
            Err(CardError::RecordNotFound)
        );
        assert_eq!(
            StatusWord::from(CardError::RecordNotFound),
            StatusWord(0x6A83)
        );
        assert_eq!(
            sel.read_record(&s, &sess, 1, 0x04, 10, &mut out),
            Err(CardError::WrongLe(32))
        );
        assert_eq!(StatusWord::from(CardError::WrongLe(32)), StatusWord(0x6C20));
        assert_eq!(
            sel.read_record(&s, &sess, 1, 0x05, 32, &mut out),
            Err(CardError::IncorrectP1P2)
        );
        sel.select_fid(0x2FE2).unwrap();
        assert_eq!(
            sel.read_record(&s, &sess, 1, 0x04, 32, &mut out),
            Err(CardError::IncompatibleFileStructure)
        );
    }

    #[test]
    fn table_is_consistent() {
        for (i, f) in FILES.iter().enumerate() {
            if let FileKind::Ef(_) = f.kind {
                assert!(
                    usize::from(f.body) + usize::from(f.size) <= usize::from(PIN1_BODY),
                    "{}",
                    f.name
                );
                let p = FileRef(f.parent.unwrap()).desc();
                assert!(!matches!(p.kind, FileKind::Ef(_)));
            }
            // FIDs unique among siblings.
            for g in FILES.iter().skip(i + 1) {
                assert!(!(f.parent == g.parent && f.fid == g.fid), "{}", f.name);
            }
        }
        assert!(usize::from(PIN1_BODY) + crate::card::pin::RECORD_LEN <= FS_DATA_LEN);
    }

    proptest! {
        #[test]
        fn random_commands_never_panic(
            ops in proptest::collection::vec((0u8..6, any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..20), 0usize..300), 1..12)
        ) {
            let mut s = card(false);
            let mut sess = PinSession::default();
            let mut sel = Selection::new();
            let mut out = [0u8; 256];
            for (op, p1, p2, data, ne) in ops {
                let _ = match op {
                    0 => sel.select(p1, p2, &data).map(|_| ()),
                    1 => sel.read_binary(&s, &sess, p1, p2, ne, &mut out).map(|_| ()),
                    2 => sel.update_binary(&mut s, &sess, p1, p2, &data),
                    3 => sel.read_record(&s, &sess, p1, p2, ne, &mut out).map(|_| ()),
                    4 => sel.status(&s, p1, p2, &mut out).map(|_| ()),
                    _ => PIN1.verify(&mut s, &mut sess, p1, p2, &data).map(|_| ()),
                };
                let _ = fcp(sel.current(), &s, &mut out).unwrap();
                let _ = gsm_response(sel.current(), &s, &mut out).unwrap();
            }
        }
    }
}

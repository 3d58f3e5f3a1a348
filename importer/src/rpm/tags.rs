//! Tag numbers and data types (rpm-format.md §1.5–1.6, `include/rpm/rpmtag.h`).

/// A header entry's data type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagType {
    /// 1: one byte per item.
    Char = 1,
    /// 2: unsigned 8-bit.
    Int8 = 2,
    /// 3: unsigned 16-bit, big-endian, 2-aligned.
    Int16 = 3,
    /// 4: unsigned 32-bit, 4-aligned.
    Int32 = 4,
    /// 5: unsigned 64-bit, 8-aligned.
    Int64 = 5,
    /// 6: one NUL-terminated string; count must be 1.
    String = 6,
    /// 7: `count` raw bytes.
    Bin = 7,
    /// 8: `count` NUL-terminated strings back to back.
    StringArray = 8,
    /// 9: like a string array, one entry per locale.
    I18nString = 9,
}

impl TagType {
    /// The type for an on-disk number (0 and above 9 are refused, as librpm does).
    pub fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            1 => TagType::Char,
            2 => TagType::Int8,
            3 => TagType::Int16,
            4 => TagType::Int32,
            5 => TagType::Int64,
            6 => TagType::String,
            7 => TagType::Bin,
            8 => TagType::StringArray,
            9 => TagType::I18nString,
            _ => return None,
        })
    }

    /// Size and alignment of one item, for fixed-size types.
    pub fn item_size(self) -> Option<u32> {
        match self {
            TagType::Char | TagType::Int8 | TagType::Bin => Some(1),
            TagType::Int16 => Some(2),
            TagType::Int32 => Some(4),
            TagType::Int64 => Some(8),
            TagType::String | TagType::StringArray | TagType::I18nString => None,
        }
    }

    /// True for the string family, which librpm treats as interchangeable for known tags.
    pub fn is_string_class(self) -> bool {
        matches!(self, TagType::String | TagType::StringArray | TagType::I18nString)
    }
}

#[allow(missing_docs)]
pub mod tag {
    // Region tags.
    pub const HEADERIMAGE: u32 = 61;
    pub const HEADERSIGNATURES: u32 = 62;
    pub const HEADERIMMUTABLE: u32 = 63;
    pub const HEADERI18NTABLE: u32 = 100;
    // Signature header.
    pub const SIG_SHA1: u32 = 269;
    pub const SIG_LONGSIZE: u32 = 270;
    pub const SIG_LONGARCHIVESIZE: u32 = 271;
    pub const SIG_SHA256: u32 = 273;
    pub const SIG_SIZE: u32 = 1000;
    pub const SIG_MD5: u32 = 1004;
    pub const SIG_PAYLOADSIZE: u32 = 1007;
    // Main header.
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const BUILDTIME: u32 = 1006;
    pub const OS: u32 = 1021;
    pub const ARCH: u32 = 1022;
    pub const OLDFILENAMES: u32 = 1027;
    pub const FILESIZES: u32 = 1028;
    pub const FILEMODES: u32 = 1030;
    pub const FILERDEVS: u32 = 1033;
    pub const FILEMTIMES: u32 = 1034;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILELINKTOS: u32 = 1036;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const SOURCERPM: u32 = 1044;
    pub const PROVIDENAME: u32 = 1047;
    pub const ARCHIVESIZE: u32 = 1046;
    pub const RPMVERSION: u32 = 1064;
    pub const FILEDEVICES: u32 = 1095;
    pub const FILEINODES: u32 = 1096;
    pub const SOURCEPACKAGE: u32 = 1106;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const PAYLOADFORMAT: u32 = 1124;
    pub const PAYLOADCOMPRESSOR: u32 = 1125;
    pub const PAYLOADFLAGS: u32 = 1126;
    pub const LONGFILESIZES: u32 = 5008;
    pub const FILECAPS: u32 = 5010;
    pub const FILEDIGESTALGO: u32 = 5011;
    pub const ENCODING: u32 = 5062;
    pub const PAYLOADDIGEST: u32 = 5092;
    pub const PAYLOADDIGESTALGO: u32 = 5093;
    pub const PAYLOADDIGESTALT: u32 = 5097;
    pub const RPMFORMAT: u32 = 5114;
}

/// The type a known main-header tag must have (string-class types are interchangeable).
pub fn expected_main_type(tag: u32) -> Option<TagType> {
    use tag::*;
    Some(match tag {
        NAME | VERSION | RELEASE | OS | ARCH | SOURCERPM | RPMVERSION | PAYLOADFORMAT | PAYLOADCOMPRESSOR
        | PAYLOADFLAGS | ENCODING => TagType::String,
        EPOCH | BUILDTIME | FILESIZES | FILEMTIMES | FILEFLAGS | FILEDEVICES | FILEINODES | SOURCEPACKAGE
        | DIRINDEXES | FILEDIGESTALGO | PAYLOADDIGESTALGO | RPMFORMAT | ARCHIVESIZE => TagType::Int32,
        FILEMODES | FILERDEVS => TagType::Int16,
        LONGFILESIZES => TagType::Int64,
        OLDFILENAMES | FILEDIGESTS | FILELINKTOS | FILEUSERNAME | FILEGROUPNAME | BASENAMES | DIRNAMES | FILECAPS
        | PAYLOADDIGEST | PAYLOADDIGESTALT => TagType::StringArray,
        _ => return None,
    })
}

/*
 * sql_charset: MariaDB 10.11's client character sets and collation ids
 * (from information_schema.CHARACTER_SETS / COLLATIONS of 10.11.19; the
 * utf16/utf32/ucs2 families are left out: they cannot be client sets and
 * the server treats their ids as unknown). See sql_charset.h.
 */
#include "proxy/sql_charset.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

struct collation_run {          /* ids first..last belong to charsets[cs] */
    uint16_t first, last;
    uint8_t  cs;
};

static const struct sql_charset charsets[] = {
    { "armscii8", false, SQL_CS_SPACE_A0 },
    { "ascii", false, 0 },
    { "big5", true, 0 },
    { "binary", false, 0 },
    { "cp1250", false, SQL_CS_SPACE_A0 },
    { "cp1251", false, 0 },
    { "cp1256", false, 0 },
    { "cp1257", false, 0 },
    { "cp850", false, 0 },
    { "cp852", false, SQL_CS_SPACE_FF },
    { "cp866", false, SQL_CS_SPACE_FF },
    { "cp932", true, 0 },
    { "dec8", false, SQL_CS_SPACE_A0 },
    { "eucjpms", false, 0 },
    { "euckr", false, 0 },
    { "gb2312", false, 0 },
    { "gbk", true, 0 },
    { "geostd8", false, SQL_CS_SPACE_A0 },
    { "greek", false, SQL_CS_SPACE_A0 },
    { "hebrew", false, SQL_CS_SPACE_A0 },
    { "hp8", false, 0 },
    { "keybcs2", false, SQL_CS_SPACE_FF },
    { "koi8r", false, 0 },
    { "koi8u", false, 0 },
    { "latin1", false, SQL_CS_SPACE_A0 },
    { "latin2", false, SQL_CS_SPACE_A0 },
    { "latin5", false, SQL_CS_SPACE_A0 },
    { "latin7", false, SQL_CS_SPACE_A0 },
    { "macce", false, 0 },
    { "macroman", false, 0 },
    { "sjis", true, 0 },
    { "swe7", false, 0 },
    { "tis620", false, 0 },
    { "ujis", false, 0 },
    { "utf8mb3", false, 0 },
    { "utf8mb4", false, 0 },
};

static const struct collation_run collations[] = {
    { 1, 1, 2 }, { 2, 2, 25 }, { 3, 3, 12 }, { 4, 4, 8 }, { 5, 5, 24 }, { 6, 6, 20 },
    { 7, 7, 22 }, { 8, 8, 24 }, { 9, 9, 25 }, { 10, 10, 31 }, { 11, 11, 1 },
    { 12, 12, 33 }, { 13, 13, 30 }, { 14, 14, 5 }, { 15, 15, 24 }, { 16, 16, 19 },
    { 18, 18, 32 }, { 19, 19, 14 }, { 20, 20, 27 }, { 21, 21, 25 }, { 22, 22, 23 },
    { 23, 23, 5 }, { 24, 24, 15 }, { 25, 25, 18 }, { 26, 26, 4 }, { 27, 27, 25 },
    { 28, 28, 16 }, { 29, 29, 7 }, { 30, 30, 26 }, { 31, 31, 24 }, { 32, 32, 0 },
    { 33, 33, 34 }, { 34, 34, 4 }, { 36, 36, 10 }, { 37, 37, 21 }, { 38, 38, 28 },
    { 39, 39, 29 }, { 40, 40, 9 }, { 41, 42, 27 }, { 43, 43, 28 }, { 44, 44, 4 },
    { 45, 46, 35 }, { 47, 49, 24 }, { 50, 52, 5 }, { 53, 53, 29 }, { 57, 57, 6 },
    { 58, 59, 7 }, { 63, 63, 3 }, { 64, 64, 0 }, { 65, 65, 1 }, { 66, 66, 4 },
    { 67, 67, 6 }, { 68, 68, 10 }, { 69, 69, 12 }, { 70, 70, 18 }, { 71, 71, 19 },
    { 72, 72, 20 }, { 73, 73, 21 }, { 74, 74, 22 }, { 75, 75, 23 }, { 77, 77, 25 },
    { 78, 78, 26 }, { 79, 79, 27 }, { 80, 80, 8 }, { 81, 81, 9 }, { 82, 82, 31 },
    { 83, 83, 34 }, { 84, 84, 2 }, { 85, 85, 14 }, { 86, 86, 15 }, { 87, 87, 16 },
    { 88, 88, 30 }, { 89, 89, 32 }, { 91, 91, 33 }, { 92, 93, 17 }, { 94, 94, 24 },
    { 95, 96, 11 }, { 97, 98, 13 }, { 99, 99, 4 }, { 192, 215, 34 }, { 223, 223, 34 },
    { 224, 247, 35 }, { 576, 578, 34 }, { 608, 610, 35 }, { 1025, 1025, 2 },
    { 1027, 1027, 12 }, { 1028, 1028, 8 }, { 1030, 1030, 20 }, { 1031, 1031, 22 },
    { 1032, 1032, 24 }, { 1033, 1033, 25 }, { 1034, 1034, 31 }, { 1035, 1035, 1 },
    { 1036, 1036, 33 }, { 1037, 1037, 30 }, { 1040, 1040, 19 }, { 1042, 1042, 32 },
    { 1043, 1043, 14 }, { 1046, 1046, 23 }, { 1048, 1048, 15 }, { 1049, 1049, 18 },
    { 1050, 1050, 4 }, { 1052, 1052, 16 }, { 1054, 1054, 26 }, { 1056, 1056, 0 },
    { 1057, 1057, 34 }, { 1060, 1060, 10 }, { 1061, 1061, 21 }, { 1062, 1062, 28 },
    { 1063, 1063, 29 }, { 1064, 1064, 9 }, { 1065, 1065, 27 }, { 1067, 1067, 28 },
    { 1069, 1070, 35 }, { 1071, 1071, 24 }, { 1074, 1075, 5 }, { 1077, 1077, 29 },
    { 1081, 1081, 6 }, { 1082, 1083, 7 }, { 1088, 1088, 0 }, { 1089, 1089, 1 },
    { 1090, 1090, 4 }, { 1091, 1091, 6 }, { 1092, 1092, 10 }, { 1093, 1093, 12 },
    { 1094, 1094, 18 }, { 1095, 1095, 19 }, { 1096, 1096, 20 }, { 1097, 1097, 21 },
    { 1098, 1098, 22 }, { 1099, 1099, 23 }, { 1101, 1101, 25 }, { 1102, 1102, 26 },
    { 1103, 1103, 27 }, { 1104, 1104, 8 }, { 1105, 1105, 9 }, { 1106, 1106, 31 },
    { 1107, 1107, 34 }, { 1108, 1108, 2 }, { 1109, 1109, 14 }, { 1110, 1110, 15 },
    { 1111, 1111, 16 }, { 1112, 1112, 30 }, { 1113, 1113, 32 }, { 1115, 1115, 33 },
    { 1116, 1117, 17 }, { 1119, 1120, 11 }, { 1121, 1122, 13 }, { 1216, 1216, 34 },
    { 1238, 1238, 34 }, { 1248, 1248, 35 }, { 1270, 1270, 35 },
};

const struct sql_charset *sql_charset_by_name(const char *name, size_t len)
{
    if (len == 4 && strncasecmp(name, "utf8", 4) == 0)
        name = "utf8mb3", len = 7;
    for (size_t i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++)
        if (strlen(charsets[i].name) == len && strncasecmp(charsets[i].name, name, len) == 0)
            return &charsets[i];
    return NULL;
}

const struct sql_charset *sql_charset_by_collation(unsigned id)
{
    size_t lo = 0, hi = sizeof(collations) / sizeof(collations[0]);

    while (lo < hi) {                   /* runs are sorted and disjoint */
        size_t mid = (lo + hi) / 2;
        if (id < collations[mid].first)
            hi = mid;
        else if (id > collations[mid].last)
            lo = mid + 1;
        else
            return &charsets[collations[mid].cs];
    }
    return NULL;
}

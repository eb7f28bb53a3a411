/*
 * sql_ddl: the classifier's statements beyond row writes (internal; see
 * sql_parser.h): TRUNCATE (a write of every row), schema changes that
 * touch a unit or center table (ddl), and CALL (writes what the procedure
 * writes; keys only from a hint).
 */
#ifndef UR_SQL_DDL_H
#define UR_SQL_DDL_H

#include "proxy/sql_parser.h"

/*
 * The current token is a statement's first word. TRUNCATE, ALTER, DROP,
 * RENAME, CREATE and CALL update p->st; any other word is left alone
 * (SQL_VERB_OTHER, nothing consumed).
 */
void sql_ddl_classify(struct parser *p);

#endif

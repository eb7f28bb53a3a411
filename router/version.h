#ifndef UR_VERSION_H
#define UR_VERSION_H
#define UR_VERSION "0.1.0"
#endif

/* System headers that Swift's Glibc module does not expose. Internal to the library. */
#ifndef RILLFLOW_CSYSTEM_H
#define RILLFLOW_CSYSTEM_H
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <unistd.h>
#endif

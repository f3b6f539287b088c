/* musl_resolve: getaddrinfo(NAME) linked against musl, to see what Alpine-based pods send.
 *
 * Build: musl-gcc -static -O2 -o musl_resolve musl_resolve.c
 * Run in the pod: ip netns exec POD ./musl_resolve NAME   (prints one address per line)
 * Exit status: 0 resolved, 2 getaddrinfo failed (the EAI_ text is printed on stderr).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    struct addrinfo hints, *res, *ai;
    char text[INET6_ADDRSTRLEN];
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s NAME\n", argv[0]);
        return 1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(argv[1], NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s\n", gai_strerror(rc));
        return 2;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        const void *addr = ai->ai_family == AF_INET6
            ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
            : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        printf("%s\n", inet_ntop(ai->ai_family, addr, text, sizeof text));
    }
    freeaddrinfo(res);
    return 0;
}

/* the @switchboard/client IIFE build */
